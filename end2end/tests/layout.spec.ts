import { expect, Page } from '@playwright/test';
import AxeBuilder from '@axe-core/playwright';
import { createHmac } from 'crypto';
import { follow, hydrated, invite, shoot, signUp, test } from './support';

/** An HS256 token signed the way any JWT library signs it. */
function jwt(secret: string, kid: string, claims: object): string {
  const part = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const signed = `${part({ alg: 'HS256', typ: 'JWT', kid })}.${part(claims)}`;
  return `${signed}.${createHmac('sha256', secret).update(signed).digest('base64url')}`;
}

const widths = [1280, 390];

/** At each width: the page never scrolls sideways and axe finds no critical or serious
 *  violation. Then saves its screenshots. Failures are soft, so one run lists every page's. */
async function check(page: Page, name: string) {
  await hydrated(page);
  for (const width of widths) {
    await page.setViewportSize({ width, height: width > 500 ? 800 : 844 });
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect.soft(overflow, `${name} scrolls sideways at ${width} px`).toBeLessThanOrEqual(0);
    const { violations } = await new AxeBuilder({ page }).analyze();
    const blocking = violations
      .filter((v) => v.impact === 'critical' || v.impact === 'serious')
      .map((v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.map((n) => n.target.join(' ')).join(' | ')}`);
    expect.soft(blocking, `axe on ${name} at ${width} px`).toEqual([]);
  }
  await shoot(page, `layout-${name}`);
}

/** Every page at 1280 and 390 px, with data in its tables: no sideways scrolling, no serious
 *  accessibility violation; at 390 px the frame folds behind an accessible Menu button. */
test('every page fits 390 and 1280 px and passes axe', async ({ page, browser }) => {
  test.setTimeout(240_000);
  const stamp = Date.now();
  const email = `layout-${stamp}@example.com`;

  // Signed out: sign-up and login.
  const visitor = await (await browser.newContext()).newPage();
  await visitor.goto('/signup');
  await check(visitor, 'signup');
  await visitor.goto('/login');
  await check(visitor, 'login');

  await signUp(page, email, 'Layout Co');
  await check(page, 'home');
  await follow(page, 'Layout Co');
  await expect(page).toHaveURL(/\/w\/[0-9a-f-]+$/);
  const base = page.url();

  // Data for the tables: an invitation, keys, log rows and contacts.
  const link = await invite(page, `invitee-${stamp}@example.com`, 'developer');
  await page.goto(`${base}/keys`);
  const kid = (await page.locator('tr[data-state=primary]').getAttribute('data-kid'))!;
  await hydrated(page);
  await page.locator(`tr[data-kid="${kid}"]`).getByRole('button', { name: 'Reveal' }).click();
  const secret = (await page.getByTestId('revealed-secret').textContent())!;
  await page.goto(base);
  const appId = (await page.getByTestId('app-id').textContent())!;
  const identify = (data: object) => page.request.post('/api/v1/identify', { data: { app_id: appId, ...data } });
  for (const user of ['ada-lovelace', 'grace-hopper']) {
    const token = jwt(secret, kid, { user_id: user, exp: Math.floor(Date.now() / 1000) + 600 });
    expect((await identify({ platform: 'web', user_jwt: token })).status()).toBe(200);
  }
  expect((await identify({ platform: 'ios', user_jwt: 'not.a.token' })).status()).toBe(401);

  for (const [path, name] of [
    ['', 'overview'], ['/security', 'security'], ['/keys', 'keys'], ['/snippets', 'snippets'],
    ['/attributes', 'attributes'], ['/logs', 'logs'], ['/debugger', 'debugger'], ['/contacts', 'contacts'],
    ['/members', 'members'], ['/audit', 'audit'], ['/webhooks', 'webhooks'],
  ]) {
    await page.goto(`${base}${path}`);
    if (name === 'webhooks') {
      await hydrated(page);
      await page.getByLabel('Endpoint URL').fill('http://127.0.0.1:9/layout-receiver');
      await page.getByRole('button', { name: 'Add endpoint' }).click();
      await expect(page.getByTestId('webhook-secret')).toBeVisible();
    }
    if (name === 'contacts') {
      await hydrated(page);
      await page.getByLabel('User id').fill('ada-lovelace');
      await page.getByRole('button', { name: 'Look up' }).click();
      await expect(page.locator('main')).toContainText('ada-lovelace');
    }
    await check(page, name);
  }
  await page.goto('/account');
  await check(page, 'account');
  await page.goto('/account/tokens');
  await check(page, 'tokens');

  // The invitation page, as the invitee sees it.
  await visitor.goto(link);
  await check(visitor, 'invite');

  // The Menu at 390 px: closed, it hides the navigation; open, it shows it and says so.
  await page.goto(`${base}/keys`);
  await hydrated(page);
  await page.setViewportSize({ width: 390, height: 844 });
  const menu = page.locator('.menu-toggle summary');
  await expect(menu).toHaveAttribute('aria-expanded', 'false');
  await expect(menu).toHaveAttribute('aria-controls', 'frame-menu frame-nav');
  await expect(page.getByRole('navigation', { name: 'Workspace' })).toBeHidden();
  await expect(page.getByTestId('account-email')).toBeHidden();
  await menu.click();
  await expect(menu).toHaveAttribute('aria-expanded', 'true');
  await expect(page.getByRole('link', { name: 'Verification log' })).toBeVisible();
  await expect(page.getByTestId('account-email')).toBeVisible();
  await check(page, 'menu-open');
  await page.setViewportSize({ width: 390, height: 844 });
  await page.getByRole('link', { name: 'Audit log' }).focus();
  await page.keyboard.press('Escape');
  await expect(menu).toHaveAttribute('aria-expanded', 'false');
  await expect(menu).toBeFocused();
  await expect(page.getByRole('navigation', { name: 'Workspace' })).toBeHidden();
});

/** Without JavaScript the Menu is a plain disclosure: it still opens and shows the navigation. */
test('the menu works without JavaScript', async ({ browser }) => {
  const context = await browser.newContext({ javaScriptEnabled: false, viewport: { width: 390, height: 844 } });
  const page = await context.newPage();
  const email = `nojs-${Date.now()}@example.com`;
  await page.goto('/signup');
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill('correct-horse-battery');
  await page.getByLabel('Workspace name').fill('Plain Co');
  await page.getByRole('button', { name: 'Create account' }).click();
  await page.goto('/');
  await page.getByRole('link', { name: 'Plain Co' }).first().click();
  await expect(page).toHaveURL(/\/w\/[0-9a-f-]+$/);
  const nav = page.getByRole('navigation', { name: 'Workspace' });
  await expect(nav).toBeHidden();
  await page.getByText('Menu', { exact: true }).click();
  await expect(nav).toBeVisible();
  await nav.getByRole('link', { name: 'Keys' }).click();
  await expect(page).toHaveURL(/\/keys$/);
  await expect(page.getByRole('heading', { name: 'Keys', level: 1 })).toBeVisible();
});

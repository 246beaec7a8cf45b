import { test as base, expect, Browser, BrowserContext, BrowserContextOptions, Page } from '@playwright/test';

/** Playwright's `test`, with every page of the test watched for Content Security Policy
 *  violations (an inline script or style the policy refuses is a broken page that still
 *  renders): any such message fails the test. Pages of contexts a test opens itself are watched
 *  too. */
export const test = base.extend<{ strictCsp: void }>({
  strictCsp: [async ({ context, browser }, use) => {
    const violations: string[] = [];
    const watch = (page: Page) => page.on('console', (m) => {
      if (m.text().includes('Content Security Policy')) violations.push(`${page.url()}: ${m.text()}`);
    });
    const watchContext = (c: BrowserContext) => {
      c.on('page', watch);
      c.pages().forEach(watch);
    };
    watchContext(context);
    const newContext = browser.newContext.bind(browser);
    browser.newContext = async (options?: BrowserContextOptions) => {
      const opened = await newContext(options);
      watchContext(opened);
      return opened;
    };
    await use();
    browser.newContext = newContext;
    expect(violations, 'no page broke the Content Security Policy').toEqual([]);
  }, { auto: true }],
});

export const password = 'correct-horse-battery';

/** Signs up `email` with a first workspace and waits for the dashboard. */
export async function signUp(page: Page, email: string, workspace: string) {
  await page.goto('/signup');
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByLabel('Workspace name').fill(workspace);
  await page.getByRole('button', { name: 'Create account' }).click();
  await expect(page.getByTestId('account-email')).toHaveText(email);
}

/** Signs in on the login page that `page` shows (or opens). */
export async function signIn(page: Page, email: string, pass: string = password) {
  if (!page.url().includes('/login')) await page.goto('/login');
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(pass);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByTestId('account-email')).toHaveText(email);
}

/** Follows the link named `name` and waits for its page. A page's code is fetched the first
 *  time it is shown, and the address changes once the page is there: until then the previous
 *  page, with its own fields and buttons, is still on screen. */
export async function follow(page: Page, name: string | RegExp, exact = false) {
  const link = page.getByRole('link', { name, exact }).first();
  const href = new URL((await link.getAttribute('href'))!, page.url());
  await link.click();
  await expect(page).toHaveURL(url => url.pathname === href.pathname && url.search === href.search);
  // A click before hydration is a plain navigation: wait for the new page to hydrate.
  await page.locator('html[data-hydrated]').waitFor({ state: 'attached' });
}

/** Waits until the page is hydrated (its wasm loaded), so forms show their answers in place
 *  instead of posting without JavaScript and reloading. */
export async function hydrated(page: Page) {
  await page.locator('html[data-hydrated]').waitFor({ state: 'attached' });
  await page.waitForLoadState('networkidle');
}

/** On a workspace's Members page (opened from its navigation if another page shows), creates
 *  an invitation and returns its link (shown once). */
export async function invite(owner: Page, email: string | null, role: string): Promise<string> {
  if (!new URL(owner.url()).pathname.endsWith('/members')) await follow(owner, 'Members', true);
  await hydrated(owner);
  const form = owner.locator('form').filter({ hasText: 'Create invitation' });
  await form.getByLabel('Email').fill(email ?? '');
  await form.getByLabel('Role').selectOption(role);
  await form.getByRole('button', { name: 'Create invitation' }).click();
  const link = owner.getByTestId('invitation-link');
  await expect(link).toContainText('/invite?token=cs_inv_');
  if (email) await expect(owner.locator(`tr[data-invitation="${email}"]`)).toContainText('pending');
  return (await link.textContent())!;
}

/** Opens an invitation link in a fresh browser, creates the account with its own password,
 *  and returns the signed-in page (on the workspace). */
export async function acceptAsNew(browser: Browser, link: string, email: string): Promise<Page> {
  const page = await (await browser.newContext()).newPage();
  await page.goto(link);
  await expect(page.getByLabel('Email')).toHaveValue(email);
  await page.getByLabel('Choose a password').fill(password);
  await page.getByRole('button', { name: 'Create account and join' }).click();
  await expect(page.getByTestId('account-email')).toHaveText(email);
  return page;
}

/** Saves full-page screenshots of what `page` shows at 1280 and 390 px wide. */
export async function shoot(page: Page, name: string) {
  for (const width of [1280, 390]) {
    await page.setViewportSize({ width, height: width > 500 ? 800 : 844 });
    await page.screenshot({ path: `screenshots/${name}-${width}.png`, fullPage: true });
  }
  await page.setViewportSize({ width: 1280, height: 720 });
}

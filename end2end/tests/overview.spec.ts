import { expect, Page } from '@playwright/test';
import { createHmac } from 'crypto';
import { follow, hydrated, shoot, signUp, test } from './support';

/** An HS256 token signed the way any JWT library signs it. */
function jwt(secret: string, kid: string, claims: object): string {
  const part = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const signed = `${part({ alg: 'HS256', typ: 'JWT', kid })}.${part(claims)}`;
  return `${signed}.${createHmac('sha256', secret).update(signed).digest('base64url')}`;
}

async function setModes(page: Page, modes: Record<string, string>) {
  await follow(page, 'Security');
  await hydrated(page);
  for (const [platform, mode] of Object.entries(modes)) await page.locator(`select[name=${platform}]`).selectOption(mode);
  await page.getByRole('button', { name: 'Save security settings' }).click();
  await expect(page.getByRole('status')).toContainText('Saved');
}

/** Switches `platform` to enforce on the Security page the way a user must: its impact over the
 *  last 7 days shows first, saving asks to review that impact, and only the confirmed save goes
 *  through; then back to the overview. */
async function enforceThroughImpact(page: Page, platform: string, label: string, impact: string, screenshot?: string) {
  await follow(page, 'Security');
  await hydrated(page);
  await expect(page.getByTestId(`impact-${platform}`)).toContainText(`If enforced: ${impact}`);
  await page.locator(`select[name=${platform}]`).selectOption('enforce');
  await page.getByRole('button', { name: 'Save security settings' }).click();
  await expect(page.getByRole('alert').filter({ hasText: 'Review the impact' })).toContainText(`If ${label} enforces: ${impact}`);
  await expect(page.locator(`select[name=${platform}]`)).toHaveValue('enforce');
  if (screenshot) await shoot(page, screenshot);
  await page.getByLabel('Switch to enforce: I have reviewed the impact shown above').check();
  await page.getByRole('button', { name: 'Save security settings' }).click();
  await expect(page.getByRole('status')).toContainText('Saved');
  await follow(page, 'Overview');
}

/** Traffic on three platforms moves the overview's counts and chart; a monitored platform gets
 *  a readiness verdict; fixing a checklist item removes it. */
test('overview: health, readiness, failure groups and checklist from live traffic', async ({ page }) => {
  const email = `overview-${Date.now()}@example.com`;
  await signUp(page, email, 'Health Co');
  await follow(page, 'Health Co');
  await follow(page, 'Overview');
  const appId = (await page.getByTestId('app-id').textContent())!;
  await expect(page.getByTestId('headline')).toContainText('Every platform enforces verification');
  await expect(page.getByTestId('platform-ios')).toContainText('Waiting for the first verified identify on iOS');

  await setModes(page, { ios: 'monitor', android: 'off' });
  await follow(page, 'Keys');
  const kid = (await page.locator('tr[data-state=primary]').getAttribute('data-kid'))!;
  await page.locator(`tr[data-kid="${kid}"]`).getByRole('button', { name: 'Reveal' }).click();
  const secret = (await page.getByTestId('revealed-secret').textContent())!;

  const identify = (data: object) => page.request.post('/api/v1/identify', { data: { app_id: appId, ...data } });
  for (const user of ['ada', 'bob', 'cy']) {
    const reply = await identify({ platform: 'ios', user_jwt: jwt(secret, kid, { user_id: user, exp: Math.floor(Date.now() / 1000) + 600 }) });
    expect((await reply.json()).verified).toBe(true);
  }
  await identify({ platform: 'ios', user_jwt: 'not.a.token' });
  await identify({ platform: 'android', user_id: 'droid-1' });
  await identify({ platform: 'android', user_id: 'droid-2' });
  expect((await identify({ platform: 'web', user_jwt: 'not.a.token' })).status()).toBe(401);

  await follow(page, 'Overview');
  await expect(page.getByTestId('headline')).toContainText('Android is off: 2 unverified identities in the last 24 hours');
  const ios = page.getByTestId('platform-ios');
  await expect(ios.locator('.stat.verified .value')).toHaveText('3');
  await expect(ios.locator('.stat.would-reject .value')).toHaveText('1');
  await expect(ios.locator('svg[role=img]')).toHaveAttribute('aria-label', /4 attempts/);
  await expect(ios).toContainText('Verified since');
  await expect(page.getByTestId('readiness-ios')).toContainText('Not ready: 25 % would be rejected, all with malformed token');
  await expect(page.getByTestId('platform-web').locator('.stat.rejected .value')).toHaveText('1');
  const groups = page.getByTestId('failure-groups');
  await expect(groups).toContainText('malformed_token');
  await expect(groups.getByRole('link', { name: 'malformed_token' })).toHaveAttribute('href', /\/logs\?reason=malformed_token$/);
  const checklist = page.getByTestId('checklist');
  await expect(checklist).toContainText('Android is off');
  await expect(checklist).toContainText('Web has no allowed origins');
  await shoot(page, 'overview');

  await follow(page, '7 days');
  await expect(page).toHaveURL(/range=7d/);
  await expect(page.getByTestId('platform-ios').locator('.stat.verified .value')).toHaveText('3');

  // Enforcing shows its impact first and asks for confirmation; then the item leaves the checklist.
  await enforceThroughImpact(page, 'android', 'Android', '2 of 2 attempts in the last 7 days (100.0 %) would have been refused, mostly missing_token', 'security-impact');
  await expect(page.getByTestId('checklist')).toContainText('iOS is in monitor mode');
  await expect(page.getByTestId('checklist')).not.toContainText('Android is off');

  // The monitored platform, the readiness verdict's subject, is switched the same way.
  await enforceThroughImpact(page, 'ios', 'iOS', '1 of 4 attempts');
  await expect(page.getByTestId('checklist')).not.toContainText('iOS is in monitor mode');
  await expect(page.getByTestId('readiness-ios')).toHaveCount(0);
});

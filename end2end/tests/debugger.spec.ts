import { expect, Page } from '@playwright/test';
import { createHmac } from 'node:crypto';
import { acceptAsNew, follow, hydrated, invite, shoot, signUp, test } from './support';

const b64url = (data: string | Buffer) => Buffer.from(data).toString('base64url');

/** An HS256 JWT, signed the way a customer's backend would. */
function sign(secret: string, kid: string, claims: object): string {
  const input = `${b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT', kid }))}.${b64url(JSON.stringify(claims))}`;
  return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
}

/** Pastes `token` into the debugger, picks `platform`, runs it and returns the verdict box. */
async function debugToken(page: Page, token: string, platform = 'web') {
  await page.getByTestId('token-input').fill(token);
  await page.getByTestId('platform').selectOption(platform);
  await page.getByRole('button', { name: 'Debug', exact: true }).click();
  const verdict = page.getByTestId('verdict');
  await expect(verdict).toBeVisible();
  return verdict;
}

/** A developer debugs good, expired, wrong-key, malformed, vendor-shaped and revoked-key tokens,
 *  makes a test token, and nothing reaches the verification log or the address bar. */
test('token debugger explains every verdict and makes test tokens', async ({ page }) => {
  const stamp = Date.now();
  await signUp(page, `debugger-${stamp}@example.com`, 'Debuggable');
  await follow(page, 'Debuggable');
  await follow(page, 'Token debugger');
  await expect(page).toHaveURL(/\/debugger$/);
  const ws = page.url().match(/\/w\/([0-9a-f-]+)\//)![1];
  await hydrated(page);
  await shoot(page, 'debugger-empty');

  // A test token, signed server side with the primary key, then debugged: verified.
  const maker = page.getByTestId('test-token');
  await maker.getByText('Make a test token').click();
  await maker.getByTestId('test-user-id').fill('user-42');
  await maker.getByTestId('test-attributes').fill('{"plan": "pro"}');
  await maker.getByRole('button', { name: 'Sign test token' }).click();
  const made = page.getByTestId('made-jwt');
  await expect(made).toHaveText(/^eyJ[\w-]+\.[\w-]+\.[\w-]+$/);
  const goodToken = (await made.textContent())!;
  await expect(page.getByTestId('made-token')).toContainText('user-42');
  await shoot(page, 'debugger-test-token');
  await page.getByTestId('use-token').click();
  await expect(page.getByTestId('token-input')).toHaveValue(goodToken);
  let verdict = page.getByTestId('verdict');
  await expect(verdict).toHaveAttribute('data-outcome', 'verified');
  await expect(verdict).toContainText('Verified');
  await expect(page.getByTestId('decision')).toContainText('Accepted on web');
  await expect(page.getByTestId('key-summary')).toHaveText('Matches the primary key.');
  await expect(page.getByTestId('key')).toContainText('sha256:');
  await expect(page.getByTestId('profile')).toContainText('came from the "user_id" claim');
  await expect(page.getByTestId('times')).toContainText('expires in 1 h');
  await expect(page.locator('[data-testid=checks] li.failed')).toHaveCount(0);
  await expect(page.getByTestId('payload')).toContainText('"user_id": "user-42"');
  // Each time claim of the payload reads as a date too, and what it means now.
  await expect(page.getByTestId('payload').locator('.claim-time', { hasText: 'expires in 1 h' })).toHaveCount(1);
  await shoot(page, 'debugger-verified');

  // The developer reveals the secret on the Keys page and signs with it, as their backend would.
  await follow(page, 'Keys');
  await hydrated(page);
  const kid = (await page.locator('tr[data-state=primary]').getAttribute('data-kid'))!;
  await page.locator(`tr[data-kid="${kid}"]`).getByRole('button', { name: 'Reveal' }).click();
  const secret = (await page.getByTestId('revealed-secret').textContent())!;
  expect(secret).toMatch(/^cs_sk_/);
  await follow(page, 'Token debugger');
  await hydrated(page);
  const now = Math.floor(Date.now() / 1000);

  // Expired: the time in words and the fix.
  verdict = await debugToken(page, sign(secret, kid, { user_id: 'user-42', iat: now - 4 * 3600, exp: now - 3 * 3600 }), 'ios');
  await expect(verdict).toHaveAttribute('data-reason', 'token_expired');
  await expect(page.getByTestId('decision')).toContainText('Rejected with 401 token_expired: ios is in mode enforce');
  await expect(page.getByTestId('times')).toContainText('expired 3 h ago');
  await expect(page.getByTestId('payload')).toContainText('expired 3 h ago');
  await expect(page.locator('li[data-check=exp]')).toContainText('Fix: Mint a fresh token for each session');
  await shoot(page, 'debugger-expired');

  // Signed with another secret.
  verdict = await debugToken(page, sign('not-the-workspace-secret-at-all!', kid, { user_id: 'user-42' }));
  await expect(verdict).toHaveAttribute('data-reason', 'invalid_signature');
  await expect(page.locator('li[data-check=signature]')).toContainText("Fix: Sign with the primary key's exact secret");
  await expect(page.getByTestId('key-summary')).toContainText('signature does not match');

  // Malformed: decoded as far as the bytes allow, each segment's problem named.
  const [h, p] = goodToken.split('.');
  verdict = await debugToken(page, `${h}==.${p}`);
  await expect(verdict).toHaveAttribute('data-reason', 'malformed_token');
  await expect(page.locator('li[data-segment=header]')).toContainText("'=' padding");
  await expect(page.locator('li[data-segment=signature]')).toContainText('Missing');
  await expect(page.getByTestId('payload')).toContainText('"user_id": "user-42"');
  await shoot(page, 'debugger-malformed');

  // A Featurebase-shaped token: the workspace's profile finds no user id, and says which would.
  verdict = await debugToken(page, sign(secret, kid, { userId: 'fb-7', email: 'ann@example.com', name: 'Ann' }));
  await expect(verdict).toHaveAttribute('data-reason', 'missing_user_id');
  await expect(page.getByTestId('looks-like')).toContainText('This looks like a Featurebase or Fogbender token.');
  await shoot(page, 'debugger-vendor');

  // Leaked key: rotate and revoke on the Keys page, then the old token names the revoked key.
  await follow(page, 'Keys');
  await hydrated(page);
  await page.getByText('This key leaked — rotate and revoke now').click();
  await page.getByRole('button', { name: 'Yes, rotate and revoke now' }).click();
  await expect(page.getByTestId('rotated')).toContainText('was revoked');
  await follow(page, 'Token debugger');
  await hydrated(page);
  verdict = await debugToken(page, goodToken);
  await expect(verdict).toHaveAttribute('data-reason', 'revoked_key');
  await expect(page.getByTestId('key-summary')).toContainText('Only this key matches, and it no longer verifies');
  await expect(page.getByTestId('key')).toContainText('revoked');
  await shoot(page, 'debugger-revoked');

  // Never in the address bar, never in the verification log.
  expect(page.url()).not.toContain(goodToken.slice(0, 20));
  const logs = await (await page.request.get(`/api/v1/workspaces/${ws}/logs`)).json();
  expect(logs.items).toHaveLength(0);

  // The log explorer's link pre-fills platform and user id.
  await page.goto(`/w/${ws}/debugger?platform=android&user_id=user-42`);
  await expect(page.getByTestId('platform')).toHaveValue('android');
  await expect(page.getByTestId('user-id-input')).toHaveValue('user-42');
  await expect(page.getByTestId('from-log')).toContainText('Debugging an attempt of user user-42 on Android');
  await expect(page.getByTestId('token-input')).toHaveValue('');
  await shoot(page, 'debugger-from-log');
});

/** Support may debug (every role may) but not sign test tokens; the page says nothing of them. */
test('support debugs tokens without the test-token form', async ({ page, browser }) => {
  const stamp = Date.now();
  await signUp(page, `debugger-owner-${stamp}@example.com`, 'Supported');
  await follow(page, 'Supported');
  await expect(page).toHaveURL(/\/w\/[0-9a-f-]+$/);
  const link = await invite(page, `debugger-support-${stamp}@example.com`, 'support');
  const support = await acceptAsNew(browser, link, `debugger-support-${stamp}@example.com`);
  await follow(support, 'Token debugger');
  await hydrated(support);
  await expect(support.getByTestId('test-token')).toHaveCount(0);
  const verdict = await debugToken(support, 'not-a-token');
  await expect(verdict).toHaveAttribute('data-reason', 'malformed_token');
  await expect(support.locator('li[data-segment=payload]')).toContainText('Missing');
  await shoot(support, 'debugger-support');
});

import { expect, Page } from '@playwright/test';
import { createHmac } from 'crypto';
import { readFileSync } from 'fs';
import { follow, hydrated, shoot, signUp, test } from './support';

/** An HS256 token for `claims`, signed with `secret` under `kid`. */
function jwt(secret: string, kid: string, claims: object): string {
  const part = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const body = `${part({ alg: 'HS256', typ: 'JWT', kid })}.${part({ ...claims, iat: Math.floor(Date.now() / 1000) })}`;
  return `${body}.${createHmac('sha256', secret).update(body).digest('base64url')}`;
}

/** The workspace behind the current page, with its app id and primary key (for identify). */
async function workspace(page: Page) {
  const id = page.url().match(/\/w\/([0-9a-f-]{36})/)![1];
  const summary = (await (await page.request.get('/api/v1/workspaces')).json())[0];
  const keys = await (await page.request.get(`/api/v1/workspaces/${id}/keys`)).json();
  const kid = keys[0].kid as string;
  // Revealing a secret is refused without the dashboard's own Origin, as from a browser.
  const origin = new URL(page.url()).origin;
  const revealed = await page.request.get(`/api/v1/workspaces/${id}/keys/${kid}/secret`, { headers: { origin } });
  const secret = (await revealed.json()).secret as string;
  const identify = async (userId: string, valid = true, platform = 'web') => {
    const reply = await page.request.post('/api/v1/identify', {
      data: { app_id: summary.app_id, platform, user_jwt: jwt(valid ? secret : 'not-the-secret-not-the-secret-00', kid, { user_id: userId }) },
    });
    expect([200, 401]).toContain(reply.status());
  };
  return { id, identify };
}

const tricky = 'a+b&c=d@example.com';

/** A developer filters the log (a user id with `+`, `&` and `=`), pages through it, opens a
 *  failed attempt's detail with its link to the debugger, watches the live tail and exports. */
test('log explorer: filters, paging, detail, live tail, export', async ({ page }) => {
  await signUp(page, `logs-${Date.now()}@example.com`, 'Log Co');
  await follow(page, 'Log Co');
  await expect(page).toHaveURL(/\/w\/[0-9a-f-]{36}$/);
  const ws = await workspace(page);
  for (let i = 0; i < 53; i++) await ws.identify(tricky);
  await ws.identify(tricky, false);
  await ws.identify('someone-else', false, 'ios');

  // Filter by user id and outcome through the form: the address carries them encoded.
  await page.goto(`/w/${ws.id}/logs`);
  await hydrated(page);
  await expect(page.getByTestId('log-range')).toContainText('last 7 days');
  const filters = page.getByTestId('log-filters');
  await filters.getByLabel('User id').fill(tricky);
  await filters.getByLabel('Outcome').selectOption('verified');
  await filters.getByRole('button', { name: 'Filter' }).click();
  await expect(page).toHaveURL(/user_id=a%2Bb%26c%3Dd%40example\.com/);
  const rows = page.getByTestId('logs').locator('tbody tr');
  await expect(rows).toHaveCount(50);
  await expect(page.getByTestId('logs').locator(`tbody tr[data-user="${tricky}"][data-outcome=verified]`)).toHaveCount(50);
  await shoot(page, 'logs-filtered');

  // A search the log refuses (a range too long, typed into the address) says why, and offers
  // no export that would save the refusal as a file.
  await page.goto(`/w/${ws.id}/logs?from=2020-01-01T00:00&to=2020-06-01T00:00`);
  await expect(page.getByRole('alert')).toContainText('31 days at most');
  await expect(page.getByTestId('export-csv')).toHaveCount(0);
  await page.goBack();
  await expect(rows).toHaveCount(50);

  // The next page keeps the filters.
  await page.getByTestId('older').click();
  await expect(page).toHaveURL(/cursor=/);
  await expect(page).toHaveURL(/user_id=a%2Bb%26c%3Dd%40example\.com/);
  await expect(rows).toHaveCount(3);
  await expect(page.getByTestId('logs').locator(`tbody tr[data-user="${tricky}"][data-outcome=verified]`)).toHaveCount(3);
  // And back to the newest page of the same search.
  await page.getByTestId('newest').click();
  await expect(page).not.toHaveURL(/cursor=/);
  await expect(page).toHaveURL(/user_id=a%2Bb%26c%3Dd%40example\.com/);
  await expect(page.getByTestId('newest')).toHaveCount(0);
  await expect(rows).toHaveCount(50);

  // A failed attempt's detail: keyboard-operable dialog, explanation, link to the debugger.
  await page.goto(`/w/${ws.id}/logs?outcome=rejected&platform=web`);
  await hydrated(page);
  await expect(rows).toHaveCount(1);
  const opener = rows.first().getByRole('button');
  await opener.focus();
  await page.keyboard.press('Enter');
  const dialog = page.getByRole('dialog');
  await expect(dialog).toBeVisible();
  await expect(dialog.getByRole('button', { name: 'Close details' })).toBeFocused();
  await expect(dialog).toContainText('invalid_signature');
  await expect(page.getByTestId('log-explanation')).not.toBeEmpty();
  await expect(page.getByTestId('log-fix')).toContainText('Fix: Sign with the primary key');
  await expect(dialog).toContainText('HS256');
  const debuggerLink = dialog.getByRole('link', { name: 'Open in debugger' });
  await expect(debuggerLink).toHaveAttribute('href', `/w/${ws.id}/debugger?platform=web&user_id=a%2Bb%26c%3Dd%40example.com`);
  // Focus stays in the dialog: Tab cycles between its two controls.
  await page.keyboard.press('Tab');
  await expect(debuggerLink).toBeFocused();
  await page.keyboard.press('Tab');
  await expect(dialog.getByRole('button', { name: 'Close details' })).toBeFocused();
  await page.keyboard.press('Shift+Tab');
  await expect(debuggerLink).toBeFocused();
  await shoot(page, 'logs-detail');
  await page.keyboard.press('Escape');
  await expect(dialog).toHaveCount(0);
  await expect(opener).toBeFocused();

  // Export what the filters select, as CSV, from the page.
  const download = page.waitForEvent('download');
  await page.getByTestId('export-csv').click();
  const csv = readFileSync(await (await download).path(), 'utf-8').trim().split('\r\n');
  expect(csv[0]).toMatch(/^id,at,outcome,reason/);
  expect(csv).toHaveLength(2);
  expect(csv[1]).toContain('"rejected","invalid_signature"');
  expect(csv[1]).toContain(`"${tricky}"`);

  // From a failed row to the debugger, with its platform and user (never a token) carried over.
  await rows.first().getByRole('button').click();
  await page.getByRole('dialog').getByRole('link', { name: 'Open in debugger' }).click();
  await expect(page).toHaveURL(/\/debugger\?platform=web&user_id=a%2Bb%26c%3Dd%40example\.com$/);
  await expect(page.getByTestId('user-id-input')).toHaveValue(tricky);
  await expect(page.getByTestId('platform')).toHaveValue('web');

  // Live tail: a real identify appears within a second.
  await page.goto(`/w/${ws.id}/logs`);
  await hydrated(page);
  await page.getByTestId('live-toggle').click();
  await expect(page.getByTestId('live-status')).toContainText('Live:');
  await ws.identify('live-visitor');
  await expect(page.locator('tbody tr.live[data-user="live-visitor"]')).toBeVisible({ timeout: 1000 });
  await shoot(page, 'logs-live');

  // Scrolled away from the top, new rows wait (counted) and come in on return.
  await page.evaluate(() => window.scrollTo(0, 1500));
  await ws.identify('while-reading');
  await expect(page.getByTestId('live-status')).toContainText('Paused while you read: 1 new attempt');
  await expect(page.locator('tbody tr[data-user="while-reading"]')).toHaveCount(0);
  await page.evaluate(() => window.scrollTo(0, 0));
  await expect(page.locator('tbody tr.live[data-user="while-reading"]')).toBeVisible();
  await expect(page.getByTestId('live-status')).toContainText('Live:');

  // A refused connection (a restart, say) is retried by the page, from where it stopped.
  await page.goto(`/w/${ws.id}/logs`);
  await hydrated(page);
  await page.route('**/logs/tail**', (route) => route.fulfill({ status: 502, body: 'restarting' }), { times: 1 });
  await page.getByTestId('live-toggle').click();
  await expect(page.getByTestId('live-status')).toContainText('reconnecting');
  await expect(page.getByTestId('live-status')).toContainText('Live:', { timeout: 5000 });
  await ws.identify('after-a-restart');
  await expect(page.locator('tbody tr.live[data-user="after-a-restart"]')).toBeVisible({ timeout: 1000 });

  // A hostile address: a clear message, not a crash.
  await page.goto(`/w/${ws.id}/logs?outcome=maybe&from=yesterday`);
  await expect(page.getByRole('alert')).toContainText('outcome must be one of');
});

import { expect, Page } from '@playwright/test';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { follow, hydrated, shoot, signUp, test } from './support';

// The real libraries, as installed for the interop tests (scripts/provision.sh,
// install_interop_tools): node `jsonwebtoken` and PyJWT.
const root = resolve(__dirname, '../..');
const nodePath = join(root, 'core/tests/interop/node_modules');
const python = process.env.COUNTERSIGN_PYTHON || join(root, '.local/venv/bin/python');

/** Runs `code` as a file named `file` with the workspace secret in COUNTERSIGN_SECRET and
 *  returns what it prints, trimmed. */
function run(program: string, file: string, code: string, secret: string, args: string[] = []): string {
  const path = join(mkdtempSync(join(tmpdir(), 'countersign-snippet-')), file);
  writeFileSync(path, code);
  return execFileSync(program, [path, ...args], {
    env: { ...process.env, COUNTERSIGN_SECRET: secret, NODE_PATH: nodePath },
    encoding: 'utf8',
  }).trim();
}

/** Identify, as the widget calls it. */
async function identify(page: Page, appId: string, token: string) {
  const reply = await page.request.post('/api/v1/identify', { data: { app_id: appId, platform: 'web', user_jwt: token } });
  return { status: reply.status(), body: await reply.json() };
}

/** A developer-to-be copies the Node and Python snippets as the page renders them, runs them with
 *  the real libraries, and their tokens verify; the web snippet's identify call works as well. */
test('snippets run as rendered and their tokens verify', async ({ page, context }) => {
  await context.grantPermissions(['clipboard-read', 'clipboard-write']);
  const violations: string[] = [];
  page.on('console', (m) => { if (m.text().includes('Content Security Policy')) violations.push(m.text()); });
  const email = `snippets-${Date.now()}@example.com`;
  await signUp(page, email, 'Snippet Co');
  await follow(page, 'Snippet Co');

  // The secret the backend would hold, revealed on the Keys page.
  await follow(page, 'Keys', true);
  await hydrated(page);
  const kid = (await page.locator('tr[data-state=primary]').getAttribute('data-kid'))!;
  await page.locator(`tr[data-kid="${kid}"]`).getByRole('button', { name: 'Reveal' }).click();
  const secret = (await page.getByTestId('revealed-secret').textContent())!;
  expect(secret).toMatch(/^cs_sk_/);

  await follow(page, 'Snippets');
  await expect(page).toHaveURL(/\/snippets$/);
  await hydrated(page);
  await expect(page.getByTestId('snippet-kid')).toHaveText(kid);
  await expect(page.getByTestId('snippet-profile')).toHaveText('countersign');
  const appId = (await page.getByTestId('snippet-app-id').textContent())!;

  const nodeCode = (await page.getByTestId('snippet-node').textContent())!;
  const pythonCode = (await page.getByTestId('snippet-python').textContent())!;
  for (const code of [nodeCode, pythonCode]) {
    expect(code).toContain(kid);
    expect(code).toContain('COUNTERSIGN_SECRET');
    expect(code).not.toContain(secret);
  }
  await expect(page.locator('body')).not.toContainText(secret);

  for (const [program, file, code] of [['node', 'snippet.cjs', nodeCode], [python, 'snippet.py', pythonCode]]) {
    const token = run(program, file, code, secret);
    const { status, body } = await identify(page, appId, token);
    expect(status, `${file}: ${JSON.stringify(body)}`).toBe(200);
    expect(body.verified).toBe(true);
    expect(body.user_id).toBe('42');
  }

  // The web widget's identify call, run as rendered (Node has fetch).
  const webCode = (await page.getByTestId('snippet-web').textContent())!;
  const token = run('node', 'snippet.cjs', nodeCode, secret);
  const answer = run('node', 'web.cjs', `${webCode}\nidentify(process.argv[2]).then((r) => console.log(JSON.stringify(r)));\n`, '', [token]);
  expect(JSON.parse(answer)).toMatchObject({ verified: true, user_id: '42', mode: 'enforce' });

  // Tabs, and a copy button per snippet that puts exactly the code on the clipboard.
  await expect(page.getByTestId('snippet-python')).toBeHidden();
  await page.getByRole('tab', { name: 'Python' }).click();
  await expect(page.getByTestId('snippet-python')).toBeVisible();
  await expect(page.getByTestId('snippet-node')).toBeHidden();
  const panel = page.locator('#panel-python');
  await panel.getByRole('button', { name: 'Copy' }).click();
  await expect(panel.getByRole('button', { name: 'Copied' })).toBeVisible();
  expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(pythonCode);
  await page.getByRole('tab', { name: 'iOS (Swift)' }).click();
  await expect(page.getByTestId('snippet-ios')).toContainText(appId);

  const nodeTab = page.getByRole('tab', { name: 'Node.js' });
  await nodeTab.click();
  // A tab list's keys: the arrows move the selection and the focus; only the selected tab is
  // in the page's tab order.
  await expect(nodeTab).toBeFocused();
  await page.keyboard.press('ArrowRight');
  await expect(page.getByRole('tab', { name: 'Python' })).toBeFocused();
  await expect(page.getByTestId('snippet-python')).toBeVisible();
  await page.keyboard.press('ArrowLeft');
  await expect(nodeTab).toBeFocused();
  await expect(nodeTab).toHaveAttribute('aria-selected', 'true');
  await expect(page.getByRole('tab', { name: 'Python' })).toHaveAttribute('tabindex', '-1');
  expect(violations, 'the strict CSP holds: tabs and copy are hydrated handlers').toEqual([]);
  await shoot(page, 'snippets');
  // At 390 px the code scrolls inside its own box, never the page.
  await page.setViewportSize({ width: 390, height: 844 });
  expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
  const box = page.locator('pre.code').first();
  expect(await box.evaluate((pre) => pre.scrollWidth > pre.clientWidth)).toBe(true);
});

import { expect, Response } from '@playwright/test';
import { follow, hydrated, shoot, signUp, test } from './support';

/** The directive `name` of a policy. */
function directive(csp: string, name: string): string {
  return csp.split(';').map(d => d.trim()).find(d => d.startsWith(`${name} `)) ?? '';
}

/** No answer of the dashboard allows inline scripts; a page's policy names a fresh nonce that its
 *  scripts carry, and the page still hydrates (a click handler runs). */
test('strict CSP with per-response nonces', async ({ page, baseURL }) => {
  const responses: Response[] = [];
  // A page's body is read as it arrives: the browser drops it once the page is left.
  const bodies = new Map<Response, Promise<string>>();
  page.on('response', r => {
    if (!r.url().startsWith(baseURL!)) return;
    responses.push(r);
    if (r.request().resourceType() === 'document' && r.status() === 200) bodies.set(r, r.text());
  });
  const violations: string[] = [];
  page.on('console', m => { if (m.text().includes('Content Security Policy')) violations.push(m.text()); });

  await signUp(page, `csp-${Date.now()}@example.com`, 'Nonced');
  await follow(page, 'Nonced');
  await follow(page, 'Keys');
  await page.reload();
  await hydrated(page);
  await page.locator('tr[data-state=primary]').getByRole('button', { name: 'Reveal' }).click();
  await expect(page.getByTestId('revealed-secret')).toHaveText(/^cs_sk_/);
  const copy = page.locator('button.copy');
  await expect(copy).toHaveText('Copy');
  await copy.click();
  await expect(copy).toHaveText('Copied');

  for (const r of responses) {
    const csp = (await r.allHeaders())['content-security-policy'] ?? '';
    expect(directive(csp, 'script-src'), r.url()).toMatch(/^script-src 'self'/);
    expect(csp, r.url()).not.toContain('unsafe-inline');
  }

  const pages = [...bodies.keys()];
  expect(pages.map(r => new URL(r.url()).pathname)).toContain(new URL(page.url()).pathname);
  for (const doc of pages) {
    const nonce = /'nonce-([A-Za-z0-9_-]{22,})'/.exec(directive(doc.headers()['content-security-policy'], 'script-src'))?.[1];
    expect(nonce, doc.url()).toBeTruthy();
    const tags = (await bodies.get(doc)!).match(/<script\b[^>]*>/g) ?? [];
    expect(tags.length).toBeGreaterThan(0);
    for (const tag of tags) expect(tag).toContain(`nonce="${nonce}"`);
    expect(doc.headers()['cache-control'], doc.url()).toBe('no-store');
  }
  const nonces = new Set(pages.map(r => /'nonce-([^']+)'/.exec(r.headers()['content-security-policy'])?.[1]));
  expect(nonces.size, 'a fresh nonce per page').toBe(pages.length);

  const serverFns = responses.filter(r => new URL(r.url()).pathname.startsWith('/ui/'));
  expect(serverFns.length).toBeGreaterThan(0);
  for (const r of serverFns) expect(r.headers()['cache-control'], r.url()).toBe('no-store');
  const assets = responses.filter(r => new URL(r.url()).pathname.startsWith('/pkg/'));
  expect(assets.length).toBeGreaterThan(0);
  for (const r of assets) expect(r.headers()['cache-control'] ?? '', r.url()).not.toContain('no-store');

  expect(violations).toEqual([]);
  await shoot(page, 'csp-keys');
});

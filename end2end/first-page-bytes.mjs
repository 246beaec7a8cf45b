// Measures what a browser downloads to show the first signed-in page: the JS, wasm and CSS
// under /pkg/, as served (`transferred`) and as a brotli-capable browser receives them (the
// `.br` file beside each asset in the site). Run against a served release build:
//   node end2end/first-page-bytes.mjs http://127.0.0.1:3000 target/site
// Signs in as the seeded demo account.
import { chromium } from '@playwright/test';
import { statSync } from 'node:fs';

const [base = 'http://127.0.0.1:3000', site = 'target/site'] = process.argv.slice(2);
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium' });
const signIn = await browser.newPage();
await signIn.goto(`${base}/login`);
await signIn.locator('html[data-hydrated]').waitFor({ state: 'attached' });
await signIn.getByLabel('Email').fill('demo@countersign.local');
await signIn.getByLabel('Password').fill('countersign-demo');
await signIn.getByRole('button', { name: 'Sign in' }).click();
await signIn.getByTestId('account-email').waitFor();
const cookies = await signIn.context().cookies();
const workspace = await signIn.locator('a[href^="/w/"]').first().getAttribute('href');

for (const path of ['/', workspace.replace(/^(\/w\/[^/]+).*$/, '$1')]) {
  // A fresh browser context: nothing cached, signed in by the session cookie alone.
  const context = await browser.newContext();
  await context.addCookies(cookies);
  const page = await context.newPage();
  const assets = [];
  page.on('requestfinished', async request => {
    const url = new URL(request.url());
    if (url.pathname.startsWith('/pkg/')) assets.push({ url, sizes: await request.sizes() });
  });
  await page.goto(`${base}${path}`);
  await page.locator('html[data-hydrated]').waitFor({ state: 'attached' });
  await page.waitForLoadState('networkidle');
  let transferred = 0;
  let brotli = 0;
  for (const { url, sizes } of assets) {
    transferred += sizes.responseBodySize;
    brotli += statSync(`${site}${url.pathname}.br`).size;
  }
  const kb = n => `${(n / 1000).toFixed(1)} KB`;
  console.log(`${path}: ${assets.length} files, ${kb(transferred)} transferred, ${kb(brotli)} with brotli`);
  await context.close();
}
await browser.close();

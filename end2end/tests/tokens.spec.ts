import { expect } from '@playwright/test';
import { follow, test } from './support';

/** A user creates a personal access token in the browser, drives the API with it, then revokes it. */
test('personal access token lifecycle', async ({ page, playwright }) => {
  const email = `pat-${Date.now()}@example.com`;
  await page.goto('/signup');
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill('correct-horse-battery');
  await page.getByLabel('Workspace name').fill('Scripted');
  await page.getByRole('button', { name: 'Create account' }).click();
  await follow(page, 'Access tokens');
  await page.getByLabel('Name').fill('incident script');
  await page.getByRole('button', { name: 'Create token' }).click();
  const token = (await page.getByTestId('new-token').textContent())!;
  expect(token).toMatch(/^cs_pat_/);

  const api = await playwright.request.newContext({ baseURL: page.url().replace(/\/account.*$/, ''), extraHTTPHeaders: { Authorization: `Bearer ${token}` } });
  const list = await api.get('/api/v1/workspaces');
  expect(list.status()).toBe(200);
  expect((await list.json())[0].name).toBe('Scripted');

  await page.locator('tr[data-token="incident script"]').getByRole('button', { name: 'Revoke' }).click();
  await expect(page.locator('tr[data-token="incident script"]')).toContainText('revoked');
  expect((await api.get('/api/v1/workspaces')).status()).toBe(401);
  await api.dispose();
});

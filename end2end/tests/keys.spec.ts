import { expect } from '@playwright/test';
import { acceptAsNew, follow, invite, password, test } from './support';

/** Support rotates a leaked key (old one revoked), a developer reveals a secret; both are on the Audit page. */
test('leaked-key runbook and audited reveal', async ({ page, browser }) => {
  const stamp = Date.now();
  const owner = `keys-owner-${stamp}@example.com`;
  const support = `keys-support-${stamp}@example.com`;
  const developer = `keys-dev-${stamp}@example.com`;

  await page.goto('/signup');
  await page.getByLabel('Email').fill(owner);
  await page.getByLabel('Password').fill(password);
  await page.getByLabel('Workspace name').fill('Leaky');
  await page.getByRole('button', { name: 'Create account' }).click();
  await follow(page, 'Leaky');
  await expect(page).toHaveURL(/\/w\/[0-9a-f-]+$/);
  const supportLink = await invite(page, support, 'support');
  const developerLink = await invite(page, developer, 'developer');

  // Support: the leaked-key runbook.
  const sup = await acceptAsNew(browser, supportLink, support);
  await follow(sup, 'Keys');
  const oldKid = await sup.locator('tr[data-state=primary]').getAttribute('data-kid');
  expect(oldKid).toMatch(/^k_/);
  await expect(sup.getByRole('button', { name: 'Reveal' })).toHaveCount(0);
  await sup.getByText('This key leaked — rotate and revoke now').click();
  await expect(sup.getByTestId('leak-panel')).toContainText(`current primary ${oldKid} is revoked immediately`);
  await sup.getByRole('button', { name: 'Yes, rotate and revoke now' }).click();
  await expect(sup.getByTestId('rotated')).toContainText('was revoked');
  await expect(sup.getByTestId('rotated')).toContainText('ask a developer or an admin');
  await expect(sup.locator(`tr[data-kid="${oldKid}"]`)).toHaveAttribute('data-state', 'revoked');
  const newKid = await sup.locator('tr[data-state=primary]').getAttribute('data-kid');
  expect(newKid).not.toEqual(oldKid);

  // Developer: reveal the new secret.
  const dev = await acceptAsNew(browser, developerLink, developer);
  await follow(dev, 'Keys');
  await expect(dev.getByText('This key leaked — rotate and revoke now')).toHaveCount(0);
  await dev.locator(`tr[data-kid="${newKid}"]`).getByRole('button', { name: 'Reveal' }).click();
  await expect(dev.getByTestId('revealed-secret')).toHaveText(/^cs_sk_/);

  // Both on the Audit page.
  await follow(page, 'Audit log');
  const audit = page.getByTestId('audit');
  await expect(audit.locator('tr[data-action="key.rotated"]')).toContainText(support);
  await expect(audit.locator('tr[data-action="key.revealed"]')).toContainText(developer);
  await expect(audit.locator('tr[data-action="key.revealed"]')).toContainText(newKid!);
});

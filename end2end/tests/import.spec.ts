import { expect } from '@playwright/test';
import { follow, hydrated, shoot, signUp, test } from './support';

/** An owner imports a weak secret (refused next to the field), then a good one: it becomes the
 *  primary, the field is emptied, the secret is shown nowhere, and the import is audited. */
test('import a secret from the Keys page', async ({ page }) => {
  const email = `import-${Date.now()}@example.com`;
  await signUp(page, email, 'Importers');
  await follow(page, 'Importers');
  await follow(page, 'Keys', true);
  await hydrated(page);
  const oldKid = (await page.locator('tr[data-state=primary]').getAttribute('data-kid'))!;

  const form = page.getByTestId('import-key');
  const field = form.getByLabel('Secret');
  await field.fill('too-short-secret');
  await form.getByRole('button', { name: 'Import secret' }).click();
  await expect(form.getByTestId('import-error')).toContainText('at least 32 bytes');
  await expect(field).toHaveAttribute('aria-invalid', 'true');
  await expect(page.locator('tr[data-kid]')).toHaveCount(1);
  await form.scrollIntoViewIfNeeded();
  await shoot(page, 'keys-import-refused');

  const secret = `intercom-${Date.now()}-8c1f0a9b7d6e5f4a3b2c1d0e`;
  await field.fill(secret);
  await form.getByLabel(/As the primary key/).check();
  await form.getByRole('button', { name: 'Import secret' }).click();
  await expect(form.getByTestId('imported')).toContainText('is the primary key now');
  await expect(form.getByTestId('import-error')).toBeEmpty();
  await expect(field).toHaveValue('');
  const newKid = (await form.getByTestId('imported').locator('code').textContent())!;
  expect(newKid).toMatch(/^k_/);
  expect(newKid).not.toEqual(oldKid);
  // The list reloads after the import: the new key is the primary, the old one rotates out.
  await expect(page.locator(`tr[data-kid="${newKid}"]`)).toHaveAttribute('data-state', 'primary');
  await expect(page.locator(`tr[data-kid="${oldKid}"]`)).toHaveAttribute('data-state', 'rotating');
  expect(await page.content()).not.toContain(secret);
  await shoot(page, 'keys');

  await follow(page, 'Audit log');
  const row = page.getByTestId('audit').locator('tr[data-action="key.imported"]');
  await expect(row).toContainText(newKid);
  await expect(row).toContainText(email);
  expect(await page.content()).not.toContain(secret);
});

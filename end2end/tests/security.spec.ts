import { expect } from '@playwright/test';
import { follow, shoot, test } from './support';

/** An owner relaxes Android, registers a secure-only attribute, and sees an unsigned identify in the log and contact. */
test('security settings, attributes, log and contact', async ({ page }) => {
  const email = `sec-${Date.now()}@example.com`;
  await page.goto('/signup');
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill('correct-horse-battery');
  await page.getByLabel('Workspace name').fill('Secure Co');
  await page.getByRole('button', { name: 'Create account' }).click();
  await follow(page, 'Secure Co');

  await follow(page, 'Overview');
  const appId = (await page.getByTestId('app-id').textContent())!;

  await follow(page, 'Security');
  await expect(page.getByTestId('mode-warnings')).toHaveCount(0);
  await page.locator('select[name=android]').selectOption('off');
  await page.getByRole('button', { name: 'Save security settings' }).click();
  await expect(page.getByRole('status')).toContainText('Saved');
  await expect(page.getByTestId('mode-warnings')).toContainText('anyone can impersonate your Android users');

  await follow(page, 'Attributes');
  await page.getByLabel('Name').fill('plan');
  await page.getByLabel('Secure only').check();
  await page.getByRole('button', { name: 'Add attribute' }).click();
  await expect(page.locator('tr[data-attribute=plan]')).toContainText('yes');
  await page.getByLabel('Name').fill('seats');
  await page.getByLabel('Secure only').uncheck();
  await page.locator('select[name=kind]').selectOption('number');
  await page.getByRole('button', { name: 'Add attribute' }).click();
  await expect(page.locator('tr[data-attribute=seats]')).toContainText('number');

  const reply = await page.request.post('/api/v1/identify', {
    data: { app_id: appId, platform: 'android', user_id: 'droid-7', attributes: { plan: 'enterprise', seats: 3 } },
  });
  expect(reply.status()).toBe(200);
  const body = await reply.json();
  expect(body.verified).toBe(false);
  expect(body.rejected_attributes).toEqual([{ name: 'plan', reason: 'secure_only' }]);

  await follow(page, 'Verification log');
  const row = page.getByTestId('logs').locator('tr[data-outcome=unverified]');
  await expect(row).toContainText('droid-7');
  await expect(row).toContainText('android');

  await follow(page, 'Contacts');
  await page.getByLabel('User id').fill('droid-7');
  await page.getByRole('button', { name: 'Look up' }).click();
  await expect(page.getByTestId('contact-attributes')).toHaveText('{"seats":3}');

  // Marking seats secure-only first shows what that would have refused, and asks to confirm.
  await follow(page, 'Attributes');
  const seats = page.locator('tr[data-attribute=seats]');
  await expect(seats.getByTestId('unsigned-updates')).toHaveText('1 would be rejected');
  await shoot(page, 'attributes-preview');
  const confirm = seats.getByLabel('Confirm: reject unsigned updates (1 in 7 days)');
  await confirm.check();
  await seats.getByRole('button', { name: 'Make secure only' }).click();
  await expect(seats).toContainText('refused when unsigned');
  await expect(seats.getByRole('button', { name: 'Allow unsigned' })).toBeVisible();
});

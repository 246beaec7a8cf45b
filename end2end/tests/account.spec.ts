import { expect } from '@playwright/test';
import { follow, hydrated, password, shoot, signIn, signUp, test } from './support';

const newPassword = 'a-brand-new-passphrase';

/** Changing the password needs the current one and signs every other browser out. */
test('password change signs out every other session', async ({ page, browser }) => {
  const email = `pw-${Date.now()}@example.com`;
  await signUp(page, email, 'Passwords');
  const elsewhere = await (await browser.newContext()).newPage();
  await signIn(elsewhere, email);

  await follow(page, 'Account');
  await hydrated(page);
  await expect(page.getByTestId('sessions').locator('tbody tr')).toHaveCount(2);
  await expect(page.locator('tr[data-current=true]')).toContainText('This device');
  await shoot(page, 'account');

  await page.getByLabel('Current password').fill('not-my-password');
  await page.getByLabel('New password').fill(newPassword);
  await page.getByRole('button', { name: 'Change password' }).click();
  await expect(page.getByRole('alert')).toContainText('The current password is incorrect.');

  await page.getByLabel('Current password').fill(password);
  await page.getByLabel('New password').fill(newPassword);
  await page.getByRole('button', { name: 'Change password' }).click();
  await expect(page.getByRole('status')).toContainText('Password changed. 1 other session was signed out.');
  await expect(page.getByTestId('sessions').locator('tbody tr')).toHaveCount(1);

  await elsewhere.reload();
  await expect(elsewhere).toHaveURL(/\/login$/);
  await elsewhere.getByLabel('Email').fill(email);
  await elsewhere.getByLabel('Password').fill(password);
  await elsewhere.getByRole('button', { name: 'Sign in' }).click();
  await expect(elsewhere.getByRole('alert')).toContainText('Email or password is incorrect.');
  await signIn(elsewhere, email, newPassword);
});

/** The sessions list signs one session out, then every other one. */
test('sessions list signs out one session, then everywhere else', async ({ page, browser }) => {
  const email = `sess-${Date.now()}@example.com`;
  await signUp(page, email, 'Sessions');
  const second = await (await browser.newContext()).newPage();
  await signIn(second, email);
  const third = await (await browser.newContext()).newPage();
  await signIn(third, email);

  await page.goto('/account');
  await hydrated(page);
  const rows = page.getByTestId('sessions').locator('tbody tr');
  await expect(rows).toHaveCount(3);
  await page.locator('tr[data-current=false]').first().getByRole('button', { name: 'Sign out' }).click();
  await expect(rows).toHaveCount(2);
  await hydrated(page);
  await page.getByRole('button', { name: 'Sign out everywhere else' }).click();
  await expect(page.getByRole('status')).toContainText('1 other session was signed out.');
  await expect(rows).toHaveCount(1);
  await expect(page.getByRole('button', { name: 'Sign out everywhere else' })).toHaveCount(0);

  for (const other of [second, third]) {
    await other.reload();
    await expect(other).toHaveURL(/\/login$/);
  }
  await page.reload();
  await expect(page.getByTestId('account-email')).toHaveText(email);
});

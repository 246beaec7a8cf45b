import { test, expect, Page } from '@playwright/test';

const password = 'correct-horse-battery';

async function signUp(page: Page, email: string, workspace: string) {
  await page.goto('/signup');
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByLabel('Workspace name').fill(workspace);
  await page.getByRole('button', { name: 'Create account' }).click();
  await expect(page.getByTestId('account-email')).toHaveText(email);
}

/** Signup, create a workspace, add a developer; the developer signs in and sees a read-only members page. */
test('owner adds a developer who sees what the role allows', async ({ page, browser }) => {
  const stamp = Date.now();
  const owner = `owner-${stamp}@example.com`;
  const developer = `dev-${stamp}@example.com`;

  await signUp(page, owner, 'First workspace');

  await page.getByLabel('Name').fill('Acme Support');
  await page.getByRole('button', { name: 'Create workspace' }).click();
  await expect(page).toHaveURL(/\/w\/[0-9a-f-]+\/members$/);
  await expect(page.getByTestId('workspace-switcher')).toHaveText('Acme Support');

  await page.getByLabel('Email').fill(developer);
  await page.locator('form').filter({ hasText: 'Add member' }).locator('select[name=role]').selectOption('developer');
  await page.getByRole('button', { name: 'Add member' }).click();
  const temporary = await page.getByTestId('temporary-password').textContent();
  expect(temporary?.length).toBeGreaterThan(20);
  await expect(page.locator(`tr[data-email="${developer}"]`)).toContainText('developer');

  const context = await browser.newContext();
  const member = await context.newPage();
  await member.goto('/login');
  await member.getByLabel('Email').fill(developer);
  await member.getByLabel('Password').fill(temporary!);
  await member.getByRole('button', { name: 'Sign in' }).click();
  await expect(member.getByTestId('account-email')).toHaveText(developer);

  // The developer belongs to Acme Support only, and cannot manage its members.
  await member.getByRole('link', { name: 'Acme Support' }).first().click();
  await expect(member.getByTestId('members')).toContainText(owner);
  await expect(member.getByRole('button', { name: 'Add member' })).toHaveCount(0);
  await expect(member.getByRole('button', { name: 'Remove' })).toHaveCount(0);
  await member.getByTestId('workspace-switcher').click();
  await expect(member.getByRole('link', { name: 'First workspace' })).toHaveCount(0);
  await context.close();
});

/** A wrong password gets a clear message and no session. */
test('wrong password is refused with a clear message', async ({ page }) => {
  const email = `solo-${Date.now()}@example.com`;
  await signUp(page, email, 'Solo');
  await page.getByRole('button', { name: 'Sign out' }).click();
  await expect(page).toHaveURL(/\/login$/);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill('not-the-password');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByRole('alert')).toContainText('Email or password is incorrect.');
});

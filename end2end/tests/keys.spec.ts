import { test, expect, Page, Browser } from '@playwright/test';

const password = 'correct-horse-battery';

async function signIn(browser: Browser, email: string, pass: string): Promise<Page> {
  const page = await (await browser.newContext()).newPage();
  await page.goto('/login');
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(pass);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByTestId('account-email')).toHaveText(email);
  return page;
}

async function addMember(owner: Page, email: string, role: string): Promise<string> {
  await owner.getByLabel('Email').fill(email);
  await owner.locator('form').filter({ hasText: 'Add member' }).locator('select[name=role]').selectOption(role);
  await owner.getByRole('button', { name: 'Add member' }).click();
  await expect(owner.locator(`tr[data-email="${email}"]`)).toBeVisible();
  return (await owner.getByTestId('temporary-password').textContent())!;
}

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
  await page.getByRole('link', { name: 'Leaky' }).first().click();
  await expect(page).toHaveURL(/\/members$/);
  const supportPassword = await addMember(page, support, 'support');
  const developerPassword = await addMember(page, developer, 'developer');

  // Support: the leaked-key runbook.
  const sup = await signIn(browser, support, supportPassword);
  await sup.getByRole('link', { name: 'Leaky' }).first().click();
  await sup.getByRole('link', { name: 'Keys' }).click();
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
  const dev = await signIn(browser, developer, developerPassword);
  await dev.getByRole('link', { name: 'Leaky' }).first().click();
  await dev.getByRole('link', { name: 'Keys' }).click();
  await expect(dev.getByText('This key leaked — rotate and revoke now')).toHaveCount(0);
  await dev.locator(`tr[data-kid="${newKid}"]`).getByRole('button', { name: 'Reveal' }).click();
  await expect(dev.getByTestId('revealed-secret')).toHaveText(/^cs_sk_/);

  // Both on the Audit page.
  await page.getByRole('link', { name: 'Audit log' }).click();
  const audit = page.getByTestId('audit');
  await expect(audit.locator('tr[data-action="key.rotated"]')).toContainText(support);
  await expect(audit.locator('tr[data-action="key.revealed"]')).toContainText(developer);
  await expect(audit.locator('tr[data-action="key.revealed"]')).toContainText(newKid!);
});

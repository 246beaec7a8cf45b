import { expect } from '@playwright/test';
import { acceptAsNew, follow, invite, password, shoot, signUp, test } from './support';

/** An owner invites a developer, who joins with a password of their own and sees what the role allows; the link works once. */
test('owner invites a developer who joins with their own password', async ({ page, browser }) => {
  const stamp = Date.now();
  const owner = `owner-${stamp}@example.com`;
  const developer = `dev-${stamp}@example.com`;

  await signUp(page, owner, 'First workspace');
  await page.getByLabel('Name').fill('Acme Support');
  await page.getByRole('button', { name: 'Create workspace' }).click();
  await expect(page).toHaveURL(/\/w\/[0-9a-f-]+$/);
  await expect(page.getByTestId('workspace-switcher')).toHaveText('Acme Support');

  const link = await invite(page, developer, 'developer');
  await expect(page.locator(`tr[data-email="${developer}"]`)).toHaveCount(0);
  await shoot(page, 'members');

  const member = await (await browser.newContext()).newPage();
  await member.goto(link);
  await expect(member.getByRole('heading', { level: 1 })).toHaveText('Join Acme Support on Countersign');
  await expect(member.getByTestId('invite')).toContainText('developer');
  await shoot(member, 'invite-new-account');
  await member.close();

  const joined = await acceptAsNew(browser, link, developer);
  await expect(joined).toHaveURL(/\/w\/[0-9a-f-]+$/);
  // The developer belongs to Acme Support only, and cannot manage its members.
  await follow(joined, 'Members');
  await expect(joined.getByTestId('members')).toContainText(owner);
  await expect(joined.getByRole('button', { name: 'Create invitation' })).toHaveCount(0);
  await expect(joined.getByRole('button', { name: 'Remove' })).toHaveCount(0);
  await joined.getByTestId('workspace-switcher').click();
  await expect(joined.getByRole('link', { name: 'First workspace' })).toHaveCount(0);

  await page.reload();
  await expect(page.locator(`tr[data-email="${developer}"]`)).toContainText('developer');
  await expect(page.locator(`tr[data-invitation="${developer}"]`)).toContainText(`joined as ${developer}`);

  // The link works once.
  const again = await (await browser.newContext()).newPage();
  await again.goto(link);
  await expect(again.getByRole('alert')).toContainText('already been used');
  await shoot(again, 'invite-used');
});

/** Someone with an account signs in from the invitation and joins with it; a revoked link stops working. */
test('existing account accepts by signing in; revoked links stop working', async ({ page, browser }) => {
  const stamp = Date.now();
  const owner = `owner2-${stamp}@example.com`;
  const bob = `bob-${stamp}@example.com`;
  await signUp(page, owner, 'Owner Co');
  await follow(page, 'Owner Co');
  const link = await invite(page, null, 'support');
  const revoked = await invite(page, `nobody-${stamp}@example.com`, 'admin');

  const other = await (await browser.newContext()).newPage();
  await signUp(other, bob, 'Bob Co');
  await other.getByRole('button', { name: 'Sign out' }).click();
  await expect(other).toHaveURL(/\/login$/);
  await other.goto(link);
  await follow(other, 'Sign in to accept');
  await expect(other).toHaveURL(/\/login\?next=/);
  await other.getByLabel('Email').fill(bob);
  await other.getByLabel('Password').fill(password);
  await other.getByRole('button', { name: 'Sign in' }).click();
  await expect(other.getByTestId('signed-in-as')).toHaveText(bob);
  await shoot(other, 'invite-signed-in');
  await other.getByRole('button', { name: 'Join Owner Co' }).click();
  await expect(other).toHaveURL(/\/w\/[0-9a-f-]+$/);
  await other.getByTestId('workspace-switcher').click();
  await expect(other.getByRole('link', { name: /Owner Co/ })).toBeVisible();
  await expect(other.getByRole('link', { name: /Bob Co/ })).toBeVisible();

  await page.reload();
  await expect(page.locator(`tr[data-email="${bob}"]`)).toContainText('support');
  await page.locator(`tr[data-invitation="nobody-${stamp}@example.com"]`).getByRole('button', { name: 'Revoke' }).click();
  await expect(page.locator(`tr[data-invitation="nobody-${stamp}@example.com"]`)).toContainText('revoked');
  const late = await (await browser.newContext()).newPage();
  await late.goto(revoked);
  await expect(late.getByRole('alert')).toContainText('revoked');
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

import { expect, Locator, Page } from '@playwright/test';
import { hydrated, password, signUp, test } from './support';

/** Presses Tab until `target` has the focus (60 presses at most), then checks that the focus
 *  is visible: the focused control draws an outline. */
async function tabTo(page: Page, target: Locator, what: string) {
  for (let i = 0; i < 60; i++) {
    if (await target.evaluate((el) => el === document.activeElement)) {
      const outline = await target.evaluate((el) => getComputedStyle(el).outlineStyle);
      expect(outline, `the focus on ${what} is visible`).not.toBe('none');
      return;
    }
    await page.keyboard.press('Tab');
  }
  throw new Error(`Tab never reached ${what}`);
}

/** Sign in, go to Keys, rotate the key through its confirmation, open the Verification log:
 *  with the keyboard only (Tab, Enter, Escape). */
test('keyboard only: sign in, rotate a key, open the verification log', async ({ page, browser }) => {
  const email = `keyboard-${Date.now()}@example.com`;
  await signUp(page, email, 'Keyboard Co');

  const walker = await (await browser.newContext()).newPage();
  await walker.goto('/login');
  await hydrated(walker);
  await tabTo(walker, walker.getByLabel('Email'), 'the email field');
  await walker.keyboard.type(email);
  await walker.keyboard.press('Tab');
  await expect(walker.getByLabel('Password')).toBeFocused();
  await walker.keyboard.type(password);
  await walker.keyboard.press('Enter');
  await expect(walker.getByTestId('account-email')).toHaveText(email);

  await hydrated(walker);
  await tabTo(walker, walker.getByRole('link', { name: 'Keyboard Co' }).first(), 'the workspace link');
  await walker.keyboard.press('Enter');
  await expect(walker).toHaveURL(/\/w\/[0-9a-f-]+$/);
  await hydrated(walker);
  await tabTo(walker, walker.getByRole('link', { name: 'Keys' }), 'the Keys link');
  await walker.keyboard.press('Enter');
  await expect(walker).toHaveURL(/\/keys$/);
  await hydrated(walker);
  const oldKid = await walker.locator('tr[data-state=primary]').getAttribute('data-kid');

  // The confirmation opens with Enter, closes with Escape (focus back on its button), and
  // confirms with Tab, Enter.
  const panel = walker.getByTestId('leak-panel');
  const opener = panel.locator('summary');
  await tabTo(walker, opener, 'the leaked-key confirmation');
  await walker.keyboard.press('Enter');
  await expect(panel).toHaveAttribute('open', '');
  await walker.keyboard.press('Tab');
  const confirm = walker.getByRole('button', { name: 'Yes, rotate and revoke now' });
  await expect(confirm).toBeFocused();
  await walker.keyboard.press('Escape');
  await expect(panel).not.toHaveAttribute('open');
  await expect(opener).toBeFocused();
  await walker.keyboard.press('Enter');
  await tabTo(walker, confirm, 'the confirm button');
  await walker.keyboard.press('Enter');
  await expect(walker.getByTestId('rotated')).toContainText('was revoked');
  await expect(walker.locator(`tr[data-kid="${oldKid}"]`)).toHaveAttribute('data-state', 'revoked');

  await tabTo(walker, walker.getByRole('link', { name: 'Verification log' }), 'the Verification log link');
  await walker.keyboard.press('Enter');
  await expect(walker).toHaveURL(/\/logs$/);
  await expect(walker.getByRole('heading', { name: 'Verification log', level: 1 })).toBeVisible();
});

/** At 390 px the Menu button opens with Enter and closes with Escape, focus back on it; the
 *  workspace switcher does the same. */
test('keyboard only: the menu and the workspace switcher', async ({ page }) => {
  await page.setViewportSize({ width: 390, height: 844 });
  await signUp(page, `keyboard-menu-${Date.now()}@example.com`, 'Menu Co');
  await hydrated(page);
  const menu = page.locator('.menu-toggle summary');
  await tabTo(page, menu, 'the Menu button');
  await page.keyboard.press('Enter');
  await expect(menu).toHaveAttribute('aria-expanded', 'true');
  const switcher = page.getByTestId('workspace-switcher');
  await tabTo(page, switcher, 'the workspace switcher');
  await page.keyboard.press('Enter');
  const workspaceLink = page.locator('.switcher').getByRole('link', { name: /Menu Co/ });
  await expect(workspaceLink).toBeVisible();
  await page.keyboard.press('Tab');
  await expect(workspaceLink).toBeFocused();
  await page.keyboard.press('Escape');
  await expect(workspaceLink).toBeHidden();
  await expect(switcher).toBeFocused();
  await expect(menu).toHaveAttribute('aria-expanded', 'true');
  await page.keyboard.press('Escape');
  await expect(menu).toHaveAttribute('aria-expanded', 'false');
  await expect(menu).toBeFocused();
  await expect(page.getByTestId('account-email')).toBeHidden();
});

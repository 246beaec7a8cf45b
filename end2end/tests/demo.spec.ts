import { expect } from '@playwright/test';
import { follow, shoot, signIn, test } from './support';

/** The seeded demo workspace shows a living product on first sign-in (scripts/test seeds it). */
test('the demo workspace has a day of traffic to show', async ({ page }) => {
  await signIn(page, 'demo@countersign.local', 'countersign-demo');
  await follow(page, 'Demo workspace');
  await follow(page, 'Overview');
  await expect(page.getByTestId('headline')).toContainText('Android is off');
  for (const platform of ['web', 'ios', 'android']) {
    await expect(page.getByTestId(`platform-${platform}`).locator('svg[role=img]')).not.toHaveAttribute('aria-label', /: 0 attempts/);
  }
  await expect(page.getByTestId('failure-groups')).toContainText('revoked_key');
  await expect(page.getByTestId('checklist')).toContainText('A revoked key is still being presented');
  await expect(page.getByTestId('readiness-ios')).toContainText('would be rejected');
  await shoot(page, 'demo-overview');

  await follow(page, 'Keys');
  await expect(page.locator('tr[data-state=rotating]')).toHaveCount(1);
  await expect(page.locator('tr[data-state=revoked]')).toHaveCount(1);
  await follow(page, 'Verification log');
  await expect(page.getByTestId('logs').locator('tbody tr')).not.toHaveCount(0);
  // Above the log, the top failure reasons of its range open into their counts and fixes, and
  // each filters the log in one click.
  const strip = page.getByTestId('failure-strip');
  await expect(strip.locator('summary')).toContainText('Top failures in this range');
  await strip.locator('summary').click();
  await expect(strip.getByTestId('failure-groups')).toContainText('revoked_key');
  await expect(strip.getByTestId('failure-groups')).toContainText('Web');
  await shoot(page, 'demo-logs-failures');
  await strip.getByRole('link', { name: /revoked_key/ }).click();
  await expect(page).toHaveURL(/reason=revoked_key/);
  await expect(page.getByTestId('logs').locator('tbody tr').first()).toContainText('revoked_key');
  await shoot(page, 'demo-logs');
});

import { expect } from '@playwright/test';
import { createHmac } from 'node:crypto';
import { createServer, IncomingMessage, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { follow, hydrated, shoot, signUp, test } from './support';

type Received = { headers: IncomingMessage['headers']; body: string };

/** A webhook receiver on a free loopback port that records every request and answers 204. */
async function startReceiver(): Promise<{ server: Server; url: string; received: Received[] }> {
  const received: Received[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { server, url: `http://127.0.0.1:${port}/countersign`, received };
}

/** An owner adds an endpoint, copies the secret shown once, sends a test event, sees it in the
 *  delivery log, and the receiver verifies its signature. */
test('add a webhook endpoint, send a test event, see the delivery', async ({ page }) => {
  const receiver = await startReceiver();
  try {
    const stamp = Date.now();
    await signUp(page, `hooks-${stamp}@example.com`, 'Hooked');
    await follow(page, 'Hooked');
    await follow(page, 'Webhooks');
    await expect(page).toHaveURL(/\/webhooks$/);
    await hydrated(page);
    await expect(page.getByTestId('no-webhooks')).toBeVisible();
    await shoot(page, 'webhooks-empty');

    await page.getByLabel('Endpoint URL').fill(receiver.url);
    await page.getByLabel(/alert\.traffic_stopped/).uncheck();
    await page.getByRole('button', { name: 'Add endpoint' }).click();
    const secret = (await page.getByTestId('webhook-secret').textContent())!;
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/=]+$/);
    const card = page.locator(`article[data-webhook="${receiver.url}"]`);
    await expect(card.getByTestId('webhook-state')).toHaveText('Enabled');
    await expect(card).toContainText('key.revoked');
    await expect(card).not.toContainText('alert.traffic_stopped');
    await expect(page.getByLabel('Endpoint URL'), 'the form empties for the next endpoint').toHaveValue('');
    await expect(page.getByLabel(/alert\.traffic_stopped/), 'with every event chosen again').toBeChecked();

    await card.getByRole('button', { name: 'Send test event' }).click();
    await expect(card.locator('tr[data-status="delivered"]')).toContainText('webhook.test', { timeout: 20_000 });
    await expect(card.locator('tr[data-status="delivered"]')).toContainText('HTTP 204');

    expect(receiver.received).toHaveLength(1);
    const got = receiver.received[0];
    const id = got.headers['webhook-id'] as string;
    const timestamp = got.headers['webhook-timestamp'] as string;
    const key = Buffer.from(secret.slice('whsec_'.length), 'base64');
    const expected = 'v1,' + createHmac('sha256', key).update(`${id}.${timestamp}.${got.body}`).digest('base64');
    expect(got.headers['webhook-signature']).toBe(expected);
    expect(JSON.parse(got.body)).toMatchObject({ id, type: 'webhook.test' });
    await shoot(page, 'webhooks-delivered');

    // The secret is not shown again.
    await page.reload();
    await expect(page.getByTestId('webhook-secret')).toHaveCount(0);
    await expect(page.locator('body')).not.toContainText(secret);
  } finally {
    receiver.server.close();
  }
});

/**
 * The canvas's alert panel (issue 24.4): a refused target shows the server's message and stores
 * nothing; an added alert is listed; "Send test" delivers a signed test message to a loopback
 * receiver and the panel then shows its answer; remove empties the list.
 */
import type { ServerResponse } from 'node:http';
import { afterAll, beforeAll, expect, test } from 'vitest';
import type { VisualGraph } from '@/types/stitch';
import { startVendorServer, type Recorded, type VendorServer } from '../vendors/server';
import { startE2E, type E2E } from './harness';

let e2e: E2E;
let receiver: VendorServer;
beforeAll(async () => {
  receiver = await startVendorServer((_req: Recorded, res: ServerResponse) => void res.writeHead(200).end('ok'));
  e2e = await startE2E({ env: { STITCH_WEBHOOK_ALLOW_PRIVATE: '1' } });
});
afterAll(async () => {
  await e2e?.close();
  await receiver?.close();
});

const graph: VisualGraph = {
  nodes: [
    { id: 'start', type: 'start', position: { x: 0, y: 0 }, data: { label: 'Start' } },
    { id: 'end', type: 'end', position: { x: 280, y: 0 }, data: { label: 'End' } },
  ],
  edges: [{ id: 'e1', source: 'start', target: 'end' }],
};

test('alert panel: refuse a bad target, add, send a test message, remove', async () => {
  const flowId = await e2e.createFlow('Alerted', graph);
  const page = await e2e.newPage();
  await page.goto(`${e2e.baseUrl}/#/flows/${flowId}`);
  await page.getByTestId('open-alerts').click();
  const panel = page.getByTestId('alerts');
  await expect.poll(() => panel.textContent()).toContain('No alerts');

  await page.getByTestId('alert-to-input').fill('ftp://example.com/hook');
  await page.getByTestId('alert-add').click();
  await expect.poll(() => page.getByTestId('alert-error').textContent()).toMatch(/must be http\(s\)/);
  e2e.allowProblems(/400/);
  expect((await e2e.api<{ alerts: unknown[] }>('GET', `/api/flows/${flowId}/alerts`)).alerts).toEqual([]);

  await page.getByTestId('alert-to-input').fill(`${receiver.url}/ops`);
  await page.getByTestId('alert-add').click();
  const row = page.getByTestId('alert-row');
  await expect.poll(() => row.count()).toBe(1);
  expect(await row.getByTestId('alert-on').textContent()).toBe('run.failed');
  expect(await row.getByTestId('alert-state').textContent()).toContain('not sent yet');

  await row.getByTestId('alert-test').click();
  await expect.poll(() => receiver.requests.filter((r) => r.path === '/ops').length, { timeout: 20_000 }).toBe(1);
  const [message] = receiver.requests;
  expect(message.body).toMatchObject({ type: 'stitch.alert', test: true, event: 'run.failed', flow: { id: flowId, name: 'Alerted' } });
  expect(message.headers['x-stitch-signature']).toMatch(/^sha256=[0-9a-f]{64}$/);
  // The outcome is recorded after the answer: wait for it, then the panel (reopened) shows it.
  await expect
    .poll(async () => (await e2e.api<{ alerts: Array<{ lastResult: string | null }> }>('GET', `/api/flows/${flowId}/alerts`)).alerts[0].lastResult, { timeout: 20_000 })
    .toBe('test: 200');
  await page.getByTestId('open-alerts').click();
  await page.getByTestId('open-alerts').click();
  await expect.poll(() => page.getByTestId('alert-state').textContent()).toContain('last: test: 200');

  await page.getByTestId('alert-delete').click();
  await expect.poll(() => row.count()).toBe(0);
  expect((await e2e.api<{ alerts: unknown[] }>('GET', `/api/flows/${flowId}/alerts`)).alerts).toEqual([]);
});

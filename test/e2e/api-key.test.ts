/**
 * A server with STITCH_API_KEY: the canvas asks for the key when the API answers 401, keeps it in
 * sessionStorage for the tab, sends it on every request and on the event stream.
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import { startE2E, type E2E } from './harness';

const KEY = 'canvas-test-key-0123456789';
let e2e: E2E;
beforeAll(async () => {
  e2e = await startE2E({ env: { STITCH_API_KEY: KEY } });
});
afterAll(async () => {
  await e2e?.close();
});

test('the key prompt appears on 401, refuses a wrong key, and the session keeps the right one', async () => {
  const flowId = await e2e.createFlow('Guarded', {
    nodes: [
      { id: 'start', type: 'start', position: { x: 0, y: 0 }, data: {} },
      { id: 'end', type: 'end', position: { x: 280, y: 0 }, data: {} },
    ],
    edges: [{ id: 'e1', source: 'start', target: 'end' }],
  });
  const page = await e2e.newPage();
  await page.goto(`${e2e.baseUrl}/`);
  await expect.poll(() => page.getByTestId('auth-prompt').isVisible()).toBe(true);
  await e2e.screenshot(page, 'api-key-prompt');

  await page.getByTestId('api-key').fill('wrong-key');
  await page.getByTestId('api-key-submit').click();
  await expect.poll(() => page.getByText('The key was refused').isVisible()).toBe(true);
  await page.getByTestId('api-key').fill(KEY);
  await page.getByTestId('api-key-submit').click();
  await expect.poll(() => page.getByTestId('flow-row-Guarded').isVisible()).toBe(true);
  expect(await page.getByTestId('auth-prompt').count()).toBe(0);
  expect(await page.evaluate(() => sessionStorage.getItem('stitch.apiKey'))).toBe(KEY);

  // A reload in the same tab does not ask again; the run view's event stream carries the key too.
  await page.reload();
  await expect.poll(() => page.getByTestId('flow-row-Guarded').isVisible()).toBe(true);
  const { runId } = await e2e.api<{ runId: string }>('POST', `/api/flows/${flowId}/run`, { input: {} });
  await page.goto(`${e2e.baseUrl}/#/runs/${runId}`);
  await expect.poll(() => page.getByTestId('run-status').getAttribute('data-status'), { timeout: 15_000 }).toBe('completed');
  expect(await page.getByTestId('node-end').getAttribute('data-status')).toBe('completed');
  expect(await page.getByTestId('auth-prompt').count()).toBe(0);

  // The refused requests are the test's point; Chromium logs each 401 itself.
  expect(e2e.allowProblems(/status of 401/)).toBeGreaterThanOrEqual(2);
  expect(e2e.problems).toEqual([]);
});

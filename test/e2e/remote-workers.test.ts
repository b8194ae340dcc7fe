/**
 * Remote workers in the canvas: a Python worker process (clients/python) announces its types; the
 * palette lists them under "Remote" with their online count; a run shows the progress the worker
 * reports through heartbeats, live, on the node.
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import type { VisualGraph } from '@/types/stitch';
import { spawnPythonWorker, type PythonWorker } from '../remote/python';
import { startE2E, type E2E } from './harness';

let e2e: E2E;
let worker: PythonWorker | undefined;
beforeAll(async () => {
  e2e = await startE2E();
  worker = spawnPythonWorker(e2e.baseUrl, { env: { LEASE_SECONDS: '10' } });
  await worker.waitFor(/^ready$/);
});
afterAll(async () => {
  worker?.process.kill('SIGKILL');
  await e2e?.close();
});

test('the palette shows remote types with their online count, and a run shows heartbeat progress live', async () => {
  const graph: VisualGraph = {
    nodes: [
      { id: 'start', type: 'start', position: { x: 0, y: 0 }, data: { label: 'Start' } },
      { id: 'py', type: 'worker', position: { x: 280, y: 0 }, data: { label: 'Python echo', workerType: 'py-echo', config: { sleep: 9, steps: 3 } } },
      { id: 'end', type: 'end', position: { x: 560, y: 0 }, data: { label: 'End' } },
    ],
    edges: [
      { id: 'e0', source: 'start', target: 'py' },
      { id: 'e1', source: 'py', target: 'end' },
    ],
  };
  const flowId = await e2e.createFlow('Remote echo', graph);
  const page = await e2e.newPage();
  await page.goto(`${e2e.baseUrl}/#/flows/${flowId}`);
  const entry = page.getByTestId('palette-worker-py-echo');
  await expect.poll(() => entry.isVisible(), { timeout: 15_000 }).toBe(true);
  await entry.scrollIntoViewIfNeeded();
  const tag = entry.getByTestId('palette-remote-online');
  expect(await tag.textContent()).toBe('remote · 1 online');
  expect(await tag.getAttribute('data-online')).toBe('1');
  await e2e.screenshot(page, 'remote-palette');

  const { runId } = await e2e.api<{ runId: string }>('POST', `/api/flows/${flowId}/run`, { input: { text: 'live' } });
  await page.goto(`${e2e.baseUrl}/#/runs/${runId}`);
  const node = page.getByTestId('node-py');
  // Progress reported by the Python process's heartbeats reaches the node while it runs.
  const bar = node.getByRole('progressbar');
  await expect.poll(async () => Number((await bar.count()) ? await bar.getAttribute('aria-valuenow') : 0), { timeout: 20_000 }).toBeGreaterThan(0);
  await expect.poll(() => node.locator('.node-message').textContent(), { timeout: 20_000 }).toMatch(/step [12] of 3/);
  expect(await node.getAttribute('data-status')).toBe('running');
  await e2e.screenshot(page, 'remote-progress');
  await expect.poll(() => node.getAttribute('data-status'), { timeout: 30_000 }).toBe('completed');
});

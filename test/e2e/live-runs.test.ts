/**
 * Live runs on the canvas: the inspector shows a node's streamed text growing while the demo's
 * script node writes it; the Pause and Resume buttons change the run's state.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, expect, test } from 'vitest';
import type { VisualGraph } from '@/types/stitch';
import { startE2E, type E2E } from './harness';

let e2e: E2E;
beforeAll(async () => {
  e2e = await startE2E();
});
afterAll(async () => {
  await e2e?.close();
});

test("the inspector shows the demo script node's text growing as it is streamed", async () => {
  const demo = JSON.parse(readFileSync('examples/video-factory.json', 'utf8')) as { name: string; graph: VisualGraph; input: unknown };
  // The mock writes its script over 4 s (a believable pace, long enough to watch).
  const script = demo.graph.nodes.find((n) => n.id === 'script')!;
  script.data = { ...script.data, config: { ...script.data?.config, mockStreamSeconds: 4 } };
  const flowId = await e2e.createFlow(demo.name, demo.graph);
  const { runId } = await e2e.api<{ runId: string }>('POST', `/api/flows/${flowId}/run`, { input: demo.input });
  const page = await e2e.newPage();
  await page.goto(`${e2e.baseUrl}/#/runs/${runId}`);
  await page.locator('.react-flow__node[data-id="script"]').click();

  const streamed = page.getByTestId('inspector-stream');
  const length = async () => ((await streamed.count()) ? ((await streamed.textContent()) ?? '').length : 0);
  await expect.poll(length, { timeout: 30_000 }).toBeGreaterThan(0);
  const first = await length();
  expect(await page.getByTestId('inspector-status').textContent()).toMatch(/running|pending/i);
  await e2e.screenshot(page, 'stream-growing');
  await expect.poll(length, { timeout: 30_000 }).toBeGreaterThan(first);

  await expect.poll(() => page.getByTestId('inspector-status').textContent(), { timeout: 30_000 }).toMatch(/completed/i);
  const output = await e2e.api<{ nodes: Record<string, { output: { text: string } }> }>('GET', `/api/runs/${runId}`);
  await expect.poll(() => streamed.textContent()).toBe(output.nodes.script.output.text);
  expect(e2e.problems).toEqual([]);
});

test('the pause and resume buttons change the run state', async () => {
  const graph: VisualGraph = {
    nodes: [
      { id: 's', type: 'start', position: { x: 0, y: 0 }, data: {} },
      { id: 'gate', type: 'ux', position: { x: 250, y: 0 }, data: { config: { prompt: 'Go on?' } } },
      { id: 'e', type: 'end', position: { x: 500, y: 0 }, data: {} },
    ],
    edges: [
      { id: 'a', source: 's', target: 'gate' },
      { id: 'b', source: 'gate', target: 'e' },
    ],
  };
  const flowId = await e2e.createFlow(`pause-${Date.now()}`, graph);
  const { runId } = await e2e.api<{ runId: string }>('POST', `/api/flows/${flowId}/run`, { input: {} });
  const page = await e2e.newPage();
  await page.goto(`${e2e.baseUrl}/#/runs/${runId}`);
  const status = page.getByTestId('run-status');
  await expect.poll(() => status.getAttribute('data-status'), { timeout: 30_000 }).toBe('running');

  await page.getByTestId('pause-run').click();
  await expect.poll(() => status.getAttribute('data-status'), { timeout: 30_000 }).toBe('paused');
  expect((await e2e.api<{ status: string }>('GET', `/api/runs/${runId}`)).status).toBe('paused');
  await e2e.screenshot(page, 'run-paused');

  await page.getByTestId('resume-run').click();
  await expect.poll(() => status.getAttribute('data-status'), { timeout: 30_000 }).toBe('running');
  expect((await e2e.api<{ status: string }>('GET', `/api/runs/${runId}`)).status).toBe('running');
  await e2e.api('POST', `/api/stitch/complete/${runId}/gate`, { input: {} });
  await expect.poll(() => status.getAttribute('data-status'), { timeout: 30_000 }).toBe('completed');
  expect(e2e.problems).toEqual([]);
});

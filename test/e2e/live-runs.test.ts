/**
 * Live runs on the canvas: the inspector shows a node's streamed text growing while the demo's
 * script node writes it.
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

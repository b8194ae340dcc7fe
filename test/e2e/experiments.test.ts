/**
 * Experiments on the canvas, in real Chromium: past runs of the demo flow (every vendor in mock
 * mode) become a dataset from the runs list; a two-variant experiment (the second overrides the
 * render node's settings, no version saved) starts from the form and fills in live; the comparison
 * shows every cell with its output and cost; a cell opens its run; the table exports as CSV.
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

const runStatus = (runId: string) => e2e.api<{ status: string }>('GET', `/api/runs/${runId}`).then((r) => r.status);

test('a dataset from past runs, a two-variant experiment of the demo flow that fills in live, and a cell that opens its run', async () => {
  const demo = JSON.parse(readFileSync('examples/video-factory.json', 'utf8')) as { name: string; graph: VisualGraph };
  const flowId = await e2e.createFlow(demo.name, demo.graph);
  const runs: string[] = [];
  for (const topic of ['sea otters', 'tide pools']) runs.push((await e2e.api<{ runId: string }>('POST', `/api/flows/${flowId}/run`, { input: { topic } })).runId);
  for (const runId of runs) await expect.poll(() => runStatus(runId), { timeout: 90_000 }).toBe('completed');

  // The runs list: select both runs, make a dataset of their inputs.
  const page = await e2e.newPage();
  await page.goto(`${e2e.baseUrl}/#/flows/${flowId}/runs`);
  await expect.poll(() => page.getByTestId('select-run').count()).toBe(2);
  for (const box of await page.getByTestId('select-run').all()) await box.check();
  await page.getByTestId('dataset-name').fill('demo topics');
  await page.getByTestId('create-dataset').click();

  // The experiment form, the new dataset chosen: B overrides the render node's settings.
  await expect.poll(() => page.getByTestId('experiment-dataset').inputValue()).not.toBe('');
  expect(await page.getByTestId('experiment-dataset').locator('option:checked').textContent()).toContain('demo topics (v1, 2 rows)');
  await page.getByTestId('variant-1-node').selectOption('render');
  await page.getByTestId('variant-1-config').fill('{"mockDelaySeconds": 1}');
  await page.getByTestId('start-experiment').click();

  // It fills in live: cells go from pending/running to completed without a reload.
  await expect.poll(() => page.getByTestId('comparison-row').count(), { timeout: 15_000 }).toBe(2);
  const statuses = () => page.locator('[data-testid^="cell-"][data-status]').evaluateAll((cells) => cells.map((c) => c.getAttribute('data-status')));
  const seen = new Set<string>();
  await expect
    .poll(
      async () => {
        for (const s of await statuses()) seen.add(s ?? '');
        return page.getByTestId('experiment-status').getAttribute('data-status');
      },
      { timeout: 120_000 },
    )
    .toBe('completed');
  expect(await statuses()).toEqual(['completed', 'completed', 'completed', 'completed']);
  expect(seen.has('running') || seen.has('pending')).toBe(true); // it was seen before it was done
  expect(await page.getByTestId('experiment-progress').textContent()).toBe('4/4 runs');
  // Both variants rendered a video; the shared nodes were paid once (a saving is reported).
  await expect.poll(() => page.getByTestId('comparison').getByTestId('media-video').count()).toBeGreaterThan(0);
  expect(await page.getByTestId('experiment-cost').textContent()).toMatch(/^\$\d+\.\d+ spent · \$\d+\.\d+ saved$/);
  const x = await e2e.api<{ cost: { savedUsd: number }; variants: { version: number | null }[] }>('GET', `/api/experiments/${new URL(page.url()).hash.split('/')[2]}?limit=0`);
  expect(x.cost.savedUsd).toBeGreaterThan(0);
  expect(x.variants.map((v) => v.version)).toEqual([1, null]);
  expect(await page.getByTestId('export-csv').getAttribute('href')).toMatch(/^data:text\/csv;charset=utf-8,row%2Cinput%2CA\.status/);
  await e2e.screenshot(page, 'experiment-comparison');

  // A cell opens its run.
  await page.getByTestId('cell-0-1').getByTestId('cell-run').click();
  await expect.poll(() => page.getByTestId('run-status').getAttribute('data-status'), { timeout: 15_000 }).toBe('completed');
  expect(page.url()).toContain('#/runs/');

  expect(e2e.problems).toEqual([]);
}, 300_000);

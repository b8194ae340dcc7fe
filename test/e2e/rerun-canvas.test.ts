/**
 * Re-runs and cost on the canvas: the run header shows what the run cost and what reuse saved, each
 * node its cost; "Run again" shows the dry run (what will execute, what will be reused) before it
 * starts the incremental re-run; reused nodes are drawn apart and link to the run their output came
 * from; "Run from here" forces a node and what follows; the flows list shows the last run's cost.
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import type { Page } from 'playwright-core';
import type { VisualGraph } from '@/types/stitch';
import { registerMeteredWorker } from '../helpers';
import { node, startE2E, type E2E } from './harness';

let e2e: E2E;
let metered: ReturnType<typeof registerMeteredWorker>;
beforeAll(async () => {
  metered = registerMeteredWorker('metered', 1, { name: 'Metered', category: 'Testing', description: 'Costs $1 a call.' });
  e2e = await startE2E();
});
afterAll(async () => {
  await e2e?.close();
  metered?.restore();
});

const graph: VisualGraph = {
  nodes: [node('start', 'start', 0), node('draft', 'worker', 260, { workerType: 'metered' }), node('polish', 'worker', 520, { workerType: 'metered' }), node('end', 'end', 780)],
  edges: [
    { id: 'e0', source: 'start', target: 'draft' },
    { id: 'e1', source: 'draft', target: 'polish' },
    { id: 'e2', source: 'polish', target: 'end' },
  ],
};

const runStatus = (page: Page) => page.getByTestId('run-status').getAttribute('data-status');
const originOf = (page: Page, id: string) => page.getByTestId(`node-${id}`).getAttribute('data-origin');
const currentRunId = (page: Page) => new URL(page.url()).hash.replace('#/runs/', '');

test('run again shows the dry run, reuses, says where outputs came from and what was saved; run from here forces', async () => {
  const flowId = await e2e.createFlow('Costly', graph);
  const { runId } = await e2e.api<{ runId: string }>('POST', `/api/flows/${flowId}/run`, { input: { topic: 'otters' } });
  const page = await e2e.newPage();
  await page.goto(`${e2e.baseUrl}/#/runs/${runId}`);
  await expect.poll(() => runStatus(page), { timeout: 15_000 }).toBe('completed');
  await expect.poll(() => page.getByTestId('run-cost').textContent()).toContain('$2.0000');
  expect(await page.getByTestId('node-draft').getByTestId('node-cost').textContent()).toContain('$1.0000');
  expect(await originOf(page, 'draft')).toBe('executed');

  // Run again: the dry run first, then the incremental re-run.
  await page.getByTestId('run-again').click();
  await expect.poll(() => page.getByTestId('rerun-reuse-count').textContent()).toBe('2');
  expect(await page.getByTestId('rerun-execute-count').textContent()).toBe('0');
  expect(await page.getByTestId('rerun-reuse').textContent()).toContain('draft');
  await page.getByTestId('rerun-start').click();
  await expect.poll(() => currentRunId(page)).not.toBe(runId);
  const again = currentRunId(page);
  await expect.poll(() => runStatus(page), { timeout: 15_000 }).toBe('completed');
  await expect.poll(() => originOf(page, 'draft')).toBe('reused');
  await expect.poll(() => originOf(page, 'polish')).toBe('reused');
  expect(await page.getByTestId('node-draft').getAttribute('class')).toContain('origin-reused');
  expect(await page.getByTestId('node-draft').getByTestId('node-origin-link').getAttribute('href')).toContain(runId);
  expect(await page.getByTestId('rerun-of-link').getAttribute('href')).toContain(runId);
  await expect.poll(() => page.getByTestId('run-saved').textContent()).toContain('$2.0000');
  await page.locator('.react-flow__node[data-id="draft"]').click();
  expect(await page.getByTestId('inspector-origin-link').getAttribute('href')).toContain(runId);

  // Run from here on polish: it executes, draft is reused.
  await page.locator('.react-flow__node[data-id="polish"]').click();
  await page.getByTestId('run-from-here').click();
  await expect.poll(() => page.getByTestId('rerun-execute-count').textContent()).toBe('1');
  expect(await page.getByTestId('rerun-execute').textContent()).toContain('polish');
  await page.getByTestId('rerun-start').click();
  await expect.poll(() => currentRunId(page)).not.toBe(again);
  await expect.poll(() => runStatus(page), { timeout: 15_000 }).toBe('completed');
  await expect.poll(() => originOf(page, 'polish')).toBe('executed');
  await expect.poll(() => originOf(page, 'draft')).toBe('reused');
  await expect.poll(() => page.getByTestId('run-cost').textContent()).toContain('$1.0000');

  // "Run everything" starts a fresh run: nothing reused.
  await page.getByTestId('run-again').click();
  await expect.poll(() => page.getByTestId('rerun-everything').isVisible()).toBe(true);
  const before = currentRunId(page);
  await page.getByTestId('rerun-everything').click();
  await expect.poll(() => currentRunId(page)).not.toBe(before);
  await expect.poll(() => runStatus(page), { timeout: 15_000 }).toBe('completed');
  await expect.poll(() => originOf(page, 'draft')).toBe('executed');

  // The flows list shows the last run's cost.
  await page.goto(`${e2e.baseUrl}/#/`);
  await expect.poll(() => page.getByTestId('flow-row-Costly').getByTestId('flow-last-cost').textContent()).toContain('$2.0000');
  expect(e2e.problems).toEqual([]);
});

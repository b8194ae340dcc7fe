/**
 * What a person does to a run from the canvas: answer a UX gate with the form built from its
 * inputSchema, retry a failed node, cancel a long run; and what the canvas shows while a splitter
 * fans out (item counts, progress bars, per-item instances).
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import type { Page } from 'playwright-core';
import type { VisualGraph } from '@/types/stitch';
import { recordNodeStatuses, startE2E, statusLog, type E2E } from './harness';
import { registerE2EWorkers } from './workers';

let e2e: E2E;
beforeAll(async () => {
  registerE2EWorkers();
  e2e = await startE2E();
});
afterAll(async () => {
  await e2e?.close();
});

const node = (id: string, type: string, x: number, data: Record<string, unknown> = {}) => ({ id, type, position: { x, y: 0 }, data: { label: id[0].toUpperCase() + id.slice(1), ...data } });
const chain = (...ids: string[]) => ids.slice(1).map((id, i) => ({ id: `e${i}`, source: ids[i], target: id }));

async function openRun(page: Page, flowId: string, input: unknown): Promise<string> {
  const { runId } = await e2e.api<{ runId: string }>('POST', `/api/flows/${flowId}/run`, { input });
  await page.goto(`${e2e.baseUrl}/#/runs/${runId}`);
  return runId;
}

const statusOf = (page: Page, id: string) => page.getByTestId(`node-${id}`).getAttribute('data-status');
const runStatus = (page: Page) => page.getByTestId('run-status').getAttribute('data-status');

test('answer a UX gate with the form generated from its inputSchema', async () => {
  const graph: VisualGraph = {
    nodes: [
      node('start', 'start', 0),
      node('review', 'ux', 280, {
        config: {
          prompt: 'Approve the draft?',
          inputSchema: {
            approved: { type: 'boolean', required: true, description: 'Publish it' },
            note: { type: 'string', description: 'A note for the author' },
          },
        },
      }),
      node('end', 'end', 560),
    ],
    edges: chain('start', 'review', 'end'),
  };
  const flowId = await e2e.createFlow('Review', graph);
  const page = await e2e.newPage();
  await openRun(page, flowId, { draft: 'v1' });

  await expect.poll(() => statusOf(page, 'review'), { timeout: 15_000 }).toBe('waiting_for_user');
  expect(await runStatus(page)).toBe('running');
  await page.locator('.react-flow__node[data-id="review"]').click();
  const form = page.getByTestId('ux-form');
  await expect.poll(() => form.isVisible()).toBe(true);
  expect(await form.textContent()).toContain('Approve the draft?');
  await page.getByTestId('ux-approved').check();
  await page.getByTestId('ux-note').fill('ship it');
  await e2e.screenshot(page, 'ux-gate-form');
  await page.getByTestId('ux-submit').click();

  await expect.poll(() => runStatus(page), { timeout: 15_000 }).toBe('completed');
  expect(await statusOf(page, 'review')).toBe('completed');
  await expect.poll(() => page.getByTestId('inspector-output').textContent()).toContain('"note": "ship it"');
  expect(await page.getByTestId('inspector-output').textContent()).toContain('"approved": true');
  await e2e.screenshot(page, 'ux-gate-answered');
  expect(e2e.problems).toEqual([]);
});

test('retry a failed node: the run resumes and completes', async () => {
  const flowId = await e2e.createFlow('Flaky vendor', {
    nodes: [node('start', 'start', 0), node('call', 'worker', 280, { workerType: 'flaky' }), node('end', 'end', 560)],
    edges: chain('start', 'call', 'end'),
  });
  const page = await e2e.newPage();
  await openRun(page, flowId, { q: 1 });

  await expect.poll(() => runStatus(page), { timeout: 15_000 }).toBe('failed');
  expect(await statusOf(page, 'call')).toBe('failed');
  await page.locator('.react-flow__node[data-id="call"]').click();
  await expect.poll(() => page.getByTestId('inspector-error').textContent()).toContain('first attempt always fails');
  await e2e.screenshot(page, 'retry-failed');
  await page.getByTestId('retry-node').click();

  await expect.poll(() => runStatus(page), { timeout: 15_000 }).toBe('completed');
  expect(await statusOf(page, 'call')).toBe('completed');
  expect(await statusOf(page, 'end')).toBe('completed');
  expect(await page.locator('[data-testid="node-call"] [data-testid="node-attempt"]').textContent()).toBe('attempt 2');
  await page.getByTestId('tab-output').click();
  await expect.poll(() => page.getByTestId('inspector-output').textContent()).toContain('"ok": true');
  expect(await page.getByTestId('inspector-attempt').textContent()).toBe('2');
  expect(await page.getByTestId('attempt').count()).toBe(2);
  expect(await page.getByTestId('attempts').textContent()).toContain('first attempt always fails');
  await page.getByTestId('tab-log').click();
  const log = await page.getByTestId('inspector-log').textContent();
  expect(log).toMatch(/failed.*vendor said 503.*pending.*attempt 2.*completed/s);
  await e2e.screenshot(page, 'retry-completed');
  expect(e2e.problems).toEqual([]);
});

test('cancel a long run', async () => {
  const flowId = await e2e.createFlow('Long wait', {
    nodes: [node('start', 'start', 0), node('pause', 'worker', 280, { workerType: 'wait', config: { seconds: 600 } }), node('end', 'end', 560)],
    edges: chain('start', 'pause', 'end'),
  });
  const page = await e2e.newPage();
  await openRun(page, flowId, {});

  await expect.poll(() => statusOf(page, 'pause'), { timeout: 15_000 }).toBe('running');
  await e2e.screenshot(page, 'cancel-running');
  await page.getByTestId('cancel-run').click();
  await expect.poll(() => runStatus(page), { timeout: 15_000 }).toBe('cancelled');
  await expect.poll(() => statusOf(page, 'pause')).toBe('cancelled');
  expect(await page.getByTestId('cancel-run').count()).toBe(0);
  await e2e.screenshot(page, 'cancel-cancelled');
  expect(e2e.problems).toEqual([]);
});

test('a splitter fans out: item counts, progress bars and per-item instances', async () => {
  const flowId = await e2e.createFlow('Fan out', {
    nodes: [
      node('start', 'start', 0),
      node('split', 'splitter', 260, { config: { arrayPath: 'items', concurrency: 2 } }),
      node('work', 'worker', 520, { workerType: 'progress', config: { steps: 3, stepMs: 300 } }),
      node('collect', 'collector', 780),
      node('end', 'end', 1040),
    ],
    edges: chain('start', 'split', 'work', 'collect', 'end'),
  });
  const page = await e2e.newPage();
  await recordNodeStatuses(page);
  await openRun(page, flowId, { items: ['a', 'b', 'c', 'd', 'e', 'f'] });

  const items = page.locator('[data-testid="node-work"] [data-testid="node-items"]');
  await expect.poll(async () => /^[1-5]\/6/.test((await items.textContent().catch(() => '')) ?? ''), { timeout: 15_000 }).toBe(true);
  await expect.poll(() => page.locator('[data-testid="node-work"] [role="progressbar"]').count()).toBe(1);
  await e2e.screenshot(page, 'splitter-progress');
  await expect.poll(() => runStatus(page), { timeout: 30_000 }).toBe('completed');
  expect(await items.textContent()).toBe('6/6');
  expect((await statusLog(page)).work).toContain('running');

  await page.locator('.react-flow__node[data-id="work"]').click();
  expect(await page.getByTestId('instances').locator('button').count()).toBe(6);
  await page.getByTestId('instances').locator('button').nth(3).click();
  await expect.poll(() => page.getByTestId('inspector-output').textContent()).toContain('"d"');
  await page.locator('.react-flow__node[data-id="collect"]').click();
  await expect.poll(() => page.getByTestId('inspector-output').textContent()).toContain('"steps": 3');
  expect(e2e.problems).toEqual([]);
});

/**
 * The canvas's main path, by hand in a real browser: build start → worker → wait → end from the
 * palette, configure it, save and see the server's validation error on the worker node, fix it
 * with an edge mapping, run it, watch every node reach `completed` as the SSE stream pushes it,
 * and read the output in the inspector.
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import type { Page } from 'playwright-core';
import { connect, dropFromPalette, recordNodeStatuses, startE2E, statusLog, type E2E } from './harness';
import { registerE2EWorkers } from './workers';

let e2e: E2E;
beforeAll(async () => {
  registerE2EWorkers();
  e2e = await startE2E();
});
afterAll(async () => {
  await e2e?.close();
});

async function selectNode(page: Page, id: string) {
  await page.locator(`.react-flow__node[data-id="${id}"]`).click();
  await expect.poll(() => page.getByTestId('node-panel').isVisible()).toBe(true);
}

test('build a flow from the palette, fix a validation error, run it live over SSE, inspect the output', async () => {
  const page = await e2e.newPage();
  await recordNodeStatuses(page);
  const apiCalls: string[] = [];
  page.on('request', (r) => {
    const url = new URL(r.url());
    if (url.pathname.startsWith('/api/')) apiCalls.push(`${r.method()} ${url.pathname}`);
  });

  // Flows list → new flow.
  await page.goto(`${e2e.baseUrl}/`);
  await page.getByTestId('new-flow').click();
  await page.getByTestId('new-flow-name').fill('Shout it');
  await page.getByTestId('new-flow-create').click();
  await expect.poll(() => page.getByTestId('palette').isVisible()).toBe(true);
  await expect.poll(() => page.getByTestId('palette-worker-shout').isVisible()).toBe(true);

  // The palette is searchable.
  await page.getByTestId('palette-search').fill('shou');
  expect(await page.getByTestId('palette-worker-wait').count()).toBe(0);
  await page.getByTestId('palette-search').fill('');

  // Drag start, shout, wait and end onto the canvas.
  await dropFromPalette(page, 'palette-start', 130, 110);
  await dropFromPalette(page, 'palette-worker-shout', 380, 260);
  await dropFromPalette(page, 'palette-worker-wait', 630, 110);
  await dropFromPalette(page, 'palette-end', 630, 420);
  await expect.poll(() => page.locator('.react-flow__node').count()).toBe(4);

  await connect(page, 'start', 'shout');
  await connect(page, 'shout', 'wait');
  await connect(page, 'wait', 'end');
  await expect.poll(() => page.locator('.react-flow__edge').count()).toBe(3);
  // A stray node, deleted with the keyboard (its connection goes with it).
  await dropFromPalette(page, 'palette-worker-transform', 380, 430);
  await expect.poll(() => page.locator('.react-flow__node').count()).toBe(5);
  await connect(page, 'shout', 'transform');
  await expect.poll(() => page.locator('.react-flow__edge').count()).toBe(4);
  await page.locator('.react-flow__node[data-id="transform"]').click();
  await page.keyboard.press('Delete');
  await expect.poll(() => page.locator('.react-flow__node').count()).toBe(4);
  expect(await page.locator('.react-flow__edge').count()).toBe(3);

  await page.getByTestId('auto-layout').click();
  await expect.poll(async () => {
    const ys = await Promise.all(['start', 'shout', 'wait', 'end'].map(async (id) => (await page.locator(`.react-flow__node[data-id="${id}"]`).boundingBox())!.y));
    return ys.every((y) => Math.abs(y - ys[0]) < 2); // one row, left to right
  }).toBe(true);

  // Configure: the start node declares the run input; shout's suffix; a 1.5 s wait.
  await selectNode(page, 'start');
  await page.getByTestId('start-schema-add').click();
  await page.getByTestId('start-schema-name-0').fill('topic');
  await selectNode(page, 'shout');
  expect(await page.getByTestId('input-text').textContent()).toContain('The text to shout');
  await page.getByTestId('config-suffix').fill('!!');
  await selectNode(page, 'wait');
  await page.getByTestId('config-seconds').fill('1.5');

  // Save: shout needs `text`, but the run input only offers `topic`.
  await page.getByTestId('save').click();
  const nodeIssues = page.locator('[data-testid="node-shout"] [data-testid="node-issues"]');
  await expect.poll(() => nodeIssues.isVisible()).toBe(true);
  expect(await nodeIssues.textContent()).toContain('needs input "text"');
  expect(await page.getByTestId('issues-list').textContent()).toContain('required_input_unreachable');
  // Chromium logs every 4xx response itself; this one is the point of the step.
  e2e.allowProblem(/status of 400/);
  await e2e.screenshot(page, 'editor-validation-error');

  // Fix it: map `text` from `topic` on the incoming edge, in shout's input form.
  await page.getByTestId('issue').first().click();
  await page.getByTestId('input-source-text').fill('topic');
  await e2e.screenshot(page, 'editor-node-form');
  // The mapping is the incoming edge's: its own panel shows and edits the same thing.
  await page.getByTestId('edge-label-e_start_shout').click();
  await expect.poll(() => page.getByTestId('edge-panel').isVisible()).toBe(true);
  expect(await page.getByTestId('edge-mapping-target-0').inputValue()).toBe('text');
  expect(await page.getByTestId('edge-mapping-source-0').inputValue()).toBe('topic');
  expect(await page.getByTestId('edge-label-e_start_shout').textContent()).toBe('text ← topic');
  await page.getByTestId('save').click();
  await expect.poll(() => page.getByTestId('issues-list').count()).toBe(0);
  await expect.poll(() => page.url()).toMatch(/#\/flows\/[0-9a-f-]{36}$/);
  expect(await page.getByTestId('unsaved').count()).toBe(0);
  expect(await page.locator('[data-testid="node-shout"] [data-testid="node-issues"]').count()).toBe(0);
  await page.locator('.react-flow__pane').click({ position: { x: 40, y: 40 } });
  await e2e.screenshot(page, 'editor-saved');

  // Run with an input prefilled from the start node's schema.
  await page.getByTestId('run').click();
  const input = page.getByTestId('run-input');
  await expect.poll(async () => JSON.parse((await input.inputValue()) || 'null')).toEqual({ topic: '' });
  await input.fill('{"topic": "hello stitch"}');
  await page.getByTestId('run-start').click();
  await expect.poll(() => page.url()).toMatch(/#\/runs\/[0-9a-f-]{36}$/);
  const runId = page.url().split('/').pop()!;

  // The wait node is shown running while it waits, then everything completes.
  await expect.poll(() => page.getByTestId('node-wait').getAttribute('data-status'), { timeout: 15_000 }).toBe('running');
  await e2e.screenshot(page, 'run-live');
  await expect.poll(() => page.getByTestId('run-status').getAttribute('data-status'), { timeout: 20_000 }).toBe('completed');
  for (const id of ['start', 'shout', 'wait', 'end']) expect(await page.getByTestId(`node-${id}`).getAttribute('data-status')).toBe('completed');

  // What the page showed, in order: intermediate states before `completed`.
  const log = await statusLog(page);
  expect(log.wait).toContain('running');
  expect(log.wait.indexOf('running')).toBeLessThan(log.wait.indexOf('completed'));
  expect(log.end[0]).not.toBe('completed'); // the end node was reached live, not loaded finished
  expect(log.end.at(-1)).toBe('completed');
  // Pushed, not polled: one event stream, and the run snapshot read only at load and at the end.
  expect(apiCalls.filter((c) => c === `GET /api/runs/${runId}/events`)).toHaveLength(1);
  expect(apiCalls.filter((c) => c === `GET /api/runs/${runId}`).length).toBeLessThanOrEqual(3);
  // The timeline lists the events it received.
  await page.getByTestId('tab-events').click();
  expect(await page.locator('[data-testid="event-row"][data-type="node:running"][data-instance="wait"]').count()).toBe(1);

  // Inspector: shout's output.
  await page.locator('.react-flow__node[data-id="shout"]').click();
  await expect.poll(() => page.getByTestId('inspector-output').textContent()).toContain('HELLO STITCH!!');
  expect(await page.getByTestId('inspector-status').getAttribute('data-status')).toBe('completed');
  await page.getByTestId('tab-input').click();
  expect(await page.getByTestId('inspector-input').textContent()).toContain('"text": "hello stitch"');
  await page.getByTestId('tab-output').click();
  await e2e.screenshot(page, 'run-inspector');

  expect(e2e.problems).toEqual([]);
});

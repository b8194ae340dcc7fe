/**
 * Sub-flows in the canvas: a `flow` node in a run links to its child run, and the child's run view
 * links back to the parent run; the editor's panel names the flow the node runs.
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import type { Page } from 'playwright-core';
import { chain, node, startE2E, type E2E } from './harness';

let e2e: E2E;
beforeAll(async () => {
  e2e = await startE2E();
});
afterAll(async () => {
  await e2e?.close();
});

const statusOf = (page: Page, id: string) => page.getByTestId(`node-${id}`).getAttribute('data-status');

test('a sub-flow node links to its child run, and the child run links back', async () => {
  // The child waits for a person, so both runs stay open while the links are followed.
  const childId = await e2e.createFlow('Child review', {
    nodes: [node('start', 'start', 0), node('review', 'ux', 280, { config: { prompt: 'ok?' } }), node('end', 'end', 560)],
    edges: chain('start', 'review', 'end'),
  });
  const parentId = await e2e.createFlow('Parent', {
    nodes: [node('start', 'start', 0), node('sub', 'flow', 280, { config: { flowId: childId } }), node('end', 'end', 560)],
    edges: chain('start', 'sub', 'end'),
  });
  const { runId } = await e2e.api<{ runId: string }>('POST', `/api/flows/${parentId}/run`, { input: { topic: 'otters' } });
  const page = await e2e.newPage();
  await page.goto(`${e2e.baseUrl}/#/runs/${runId}`);

  await expect.poll(() => statusOf(page, 'sub'), { timeout: 15_000 }).toBe('running');
  const link = page.getByTestId('child-run-link');
  await expect.poll(() => link.isVisible(), { timeout: 15_000 }).toBe(true);
  const childHref = await link.getAttribute('href');
  expect(childHref).toMatch(/^#\/runs\/[0-9a-f-]{36}$/);
  await e2e.screenshot(page, 'sub-flow-parent-run');
  await link.click();

  await expect.poll(() => page.evaluate(() => location.hash)).toBe(childHref);
  await expect.poll(() => statusOf(page, 'review'), { timeout: 15_000 }).toBe('waiting_for_user');
  const back = page.getByTestId('parent-run-link');
  await expect.poll(() => back.isVisible()).toBe(true);
  expect(await back.textContent()).toContain('sub');
  await e2e.screenshot(page, 'sub-flow-child-run');
  await back.click();
  await expect.poll(() => page.evaluate(() => location.hash)).toBe(`#/runs/${runId}`);
  await expect.poll(() => statusOf(page, 'sub'), { timeout: 15_000 }).toBe('running');

  // The editor's panel shows which flow the node runs.
  await page.goto(`${e2e.baseUrl}/#/flows/${parentId}`);
  await page.locator('.react-flow__node[data-id="sub"]').click();
  const select = page.getByTestId('config-flowId');
  await expect.poll(() => select.inputValue(), { timeout: 15_000 }).toBe(childId);
  expect(await select.locator('option:checked').textContent()).toBe('Child review');
  expect(e2e.problems).toEqual([]);
});

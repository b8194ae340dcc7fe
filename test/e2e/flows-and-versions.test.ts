/**
 * Around the editor: the flows list (last run status, rename, delete), version history with
 * read-only old versions and restore, the runs list with its status filter, and a run view that
 * draws the run's pinned version rather than the flow's current one.
 */
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

const greetGraph = (label: string, seconds: number): VisualGraph => ({
  nodes: [
    { id: 'start', type: 'start', position: { x: 0, y: 0 }, data: { label: 'Start', inputSchema: { name: { type: 'string', required: true, description: 'Who to greet' } } } },
    { id: 'greet', type: 'worker', position: { x: 280, y: 0 }, data: { label, workerType: 'transform', config: { set: { greeting: 'Hello, {{name}}!' } } } },
    { id: 'pause', type: 'worker', position: { x: 560, y: 0 }, data: { label: 'Pause', workerType: 'wait', config: { seconds } } },
    { id: 'end', type: 'end', position: { x: 840, y: 0 }, data: { label: 'End' } },
  ],
  edges: [
    { id: 'e1', source: 'start', target: 'greet' },
    { id: 'e2', source: 'greet', target: 'pause' },
    { id: 'e3', source: 'pause', target: 'end' },
  ],
});

async function waitForRun(runId: string, status: string) {
  await expect
    .poll(async () => (await e2e.api<{ status: string }>('GET', `/api/runs/${runId}`)).status, { timeout: 15_000 })
    .toBe(status);
}

test('flows list, versions, runs list and pinned-version run view', async () => {
  // Alpha v1 runs to completion; v2 changes a label; a run of v2 is cancelled.
  const alpha = await e2e.createFlow('Alpha', greetGraph('Greet v1', 0));
  const { runId: firstRun } = await e2e.api<{ runId: string }>('POST', `/api/flows/${alpha}/run`, { input: { name: 'Ada' } });
  await waitForRun(firstRun, 'completed');
  await e2e.api('PUT', `/api/flows/${alpha}`, { graph: greetGraph('Greet v2', 30) });
  const { runId: secondRun } = await e2e.api<{ runId: string }>('POST', `/api/flows/${alpha}/run`, { input: { name: 'Grace' } });
  await expect
    .poll(async () => (await e2e.api<{ nodes: Record<string, { status: string }> }>('GET', `/api/runs/${secondRun}`)).nodes.pause?.status, { timeout: 15_000 })
    .toBe('running');
  await e2e.api('POST', `/api/runs/${secondRun}/cancel`);
  await e2e.createFlow('Beta', greetGraph('Greet', 0));

  const page = await e2e.newPage();
  await page.goto(`${e2e.baseUrl}/`);
  const alphaRow = page.getByTestId('flow-row-Alpha');
  await expect.poll(() => alphaRow.locator('[data-status]').getAttribute('data-status')).toBe('cancelled');
  expect(await page.getByTestId('flow-row-Beta').textContent()).toContain('never run');
  expect(await alphaRow.textContent()).toContain('v2');
  await e2e.screenshot(page, 'flows-list');
  // Live: a run of Beta started elsewhere shows on its row and settles.
  const beta = (await e2e.api<{ flows: Array<{ id: string; name: string }> }>('GET', '/api/flows')).flows.find((f) => f.name === 'Beta')!;
  await e2e.api('POST', `/api/flows/${beta.id}/run`, { input: { name: 'Live' } });
  await expect.poll(() => page.getByTestId('flow-row-Beta').locator('[data-status]').getAttribute('data-status'), { timeout: 15_000 }).toBe('completed');

  // Rename Beta, then delete it.
  await page.getByTestId('flow-row-Beta').getByTestId('rename').click();
  await page.getByTestId('rename-input').fill('Gamma');
  await page.getByTestId('rename-input').press('Enter');
  await expect.poll(() => page.getByTestId('flow-row-Gamma').count()).toBe(1);
  await page.getByTestId('flow-row-Gamma').getByTestId('delete').click();
  await page.getByTestId('confirm-delete').click();
  await expect.poll(() => page.getByTestId('flow-row-Gamma').count()).toBe(0);
  expect((await e2e.api<{ flows: Array<{ name: string }> }>('GET', '/api/flows')).flows.map((f) => f.name)).toEqual(['Alpha']);

  // Version history: v1 opens read-only; restore it as a draft and save it as v3.
  await page.locator('a', { hasText: 'Alpha' }).first().click();
  await expect.poll(() => page.locator('.react-flow__node[data-id="greet"]').textContent()).toContain('Greet v2');
  await page.getByTestId('open-versions').click();
  await expect.poll(() => page.getByTestId('version-1').isVisible()).toBe(true);
  await page.getByTestId('version-1').click();
  await expect.poll(() => page.getByTestId('readonly-banner').isVisible()).toBe(true);
  await expect.poll(() => page.locator('.react-flow__node[data-id="greet"]').textContent()).toContain('Greet v1');
  expect(await page.getByTestId('palette').count()).toBe(0);
  expect(await page.getByTestId('save').count()).toBe(0);
  await page.locator('.react-flow__node[data-id="greet"]').click();
  expect(await page.getByTestId('node-label').isDisabled()).toBe(true);
  // Keyboard deletion does nothing on a read-only version.
  await page.keyboard.press('Delete');
  expect(await page.locator('.react-flow__node').count()).toBe(4);
  await e2e.screenshot(page, 'version-readonly');
  await page.getByRole('button', { name: 'Restore as draft' }).click();
  await expect.poll(() => page.getByTestId('unsaved').isVisible()).toBe(true);
  await page.getByTestId('save').click();
  await expect.poll(() => page.getByTestId('toast').filter({ hasText: 'Saved version 3' }).count()).toBe(1);
  const current = await e2e.api<{ version: number; graph: VisualGraph }>('GET', `/api/flows/${alpha}`);
  expect(current.version).toBe(3);
  expect(current.graph.nodes.find((n) => n.id === 'greet')?.data?.label).toBe('Greet v1');

  // Runs list with a status filter.
  await page.getByTestId('open-runs').click();
  await expect.poll(() => page.getByTestId('run-row').count()).toBe(2);
  await page.getByTestId('filter-completed').click();
  await expect.poll(async () => (await page.getByTestId('run-row').count()) === 1 && (await page.getByTestId('run-row').getAttribute('data-status'))).toBe('completed');
  expect(await page.getByTestId('run-row').textContent()).toContain('v1');
  await page.getByTestId('filter-failed').click();
  await expect.poll(() => page.getByText('No failed runs').isVisible()).toBe(true);
  await page.getByTestId('filter-cancelled').click();
  await expect.poll(() => page.getByTestId('run-row').getAttribute('data-status')).toBe('cancelled');
  await page.getByTestId('filter-all').click();
  await expect.poll(() => page.getByTestId('run-row').count()).toBe(2);
  // The list is live: a run started elsewhere appears and settles without a reload.
  await e2e.api('POST', `/api/flows/${alpha}/run`, { input: { name: 'Live' } });
  await expect.poll(() => page.getByTestId('run-row').count(), { timeout: 15_000 }).toBe(3);
  await expect.poll(() => page.getByTestId('run-row').first().getAttribute('data-status'), { timeout: 15_000 }).toBe('completed');
  await e2e.screenshot(page, 'runs-list');

  // The first run was pinned to v1: its view draws v1, not the current graph.
  await page.goto(`${e2e.baseUrl}/#/runs/${firstRun}`);
  await expect.poll(() => page.getByTestId('node-greet').getAttribute('data-status')).toBe('completed');
  expect(await page.getByTestId('node-greet').textContent()).toContain('Greet v1');
  await page.goto(`${e2e.baseUrl}/#/runs/${secondRun}`);
  await expect.poll(() => page.getByTestId('node-greet').textContent()).toContain('Greet v2');
  expect(await page.getByTestId('run-status').getAttribute('data-status')).toBe('cancelled');

  expect(e2e.problems).toEqual([]);
});

test('a version made by stitch deploy is tagged deployed, with its message (issue 25)', async () => {
  const file = { name: 'Deployed', graph: greetGraph('Greet', 0) };
  await e2e.api('POST', '/api/deploy', { flows: [{ where: 'deployed.json', content: file }], message: 'Greet from git (abc123)' });
  const deployed = (await e2e.api<{ flows: Array<{ id: string; name: string }> }>('GET', '/api/flows')).flows.find((f) => f.name === 'Deployed')!;
  await e2e.api('PUT', `/api/flows/${deployed.id}`, { graph: greetGraph('Greet, saved on the canvas', 0) });
  const page = await e2e.newPage();
  await page.goto(`${e2e.baseUrl}/#/flows/${deployed.id}`);
  await page.getByTestId('open-versions').click();
  await expect.poll(() => page.getByTestId('version-2').isVisible()).toBe(true);
  expect(await page.getByTestId('deployed-1').textContent()).toBe('deployed');
  expect(await page.getByTestId('version-message-1').textContent()).toBe('Greet from git (abc123)');
  // A save on the canvas is not a deploy.
  expect(await page.getByTestId('deployed-2').count()).toBe(0);
  expect(e2e.problems).toEqual([]);
});

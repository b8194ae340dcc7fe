/**
 * The canvas's triggers and credentials: the editor's schedule panel (add with a time zone and a
 * budget, a refused expression and budget, pause, delete) with the runs list showing each run's
 * trigger; and the settings page setting an integration's key, which switches that integration in
 * the palette from mock to real without a restart.
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import type { VisualGraph } from '@/types/stitch';
import { startE2E, type E2E } from './harness';

let e2e: E2E;
const savedAnthropicKey = process.env.ANTHROPIC_API_KEY;
beforeAll(async () => {
  delete process.env.ANTHROPIC_API_KEY; // the palette must start in mock mode whatever this machine has
  e2e = await startE2E({ env: { STITCH_ENCRYPTION_KEY: Buffer.alloc(32, 3).toString('base64') } });
});
afterAll(async () => {
  await e2e?.close();
  if (savedAnthropicKey !== undefined) process.env.ANTHROPIC_API_KEY = savedAnthropicKey;
});

const graph: VisualGraph = {
  nodes: [
    { id: 'start', type: 'start', position: { x: 0, y: 0 }, data: { label: 'Start' } },
    { id: 'stamp', type: 'worker', position: { x: 280, y: 0 }, data: { label: 'Stamp', workerType: 'transform', config: { set: { stamped: 'yes' } } } },
    { id: 'end', type: 'end', position: { x: 560, y: 0 }, data: { label: 'End' } },
  ],
  edges: [
    { id: 'e1', source: 'start', target: 'stamp' },
    { id: 'e2', source: 'stamp', target: 'end' },
  ],
};

test('schedule panel: add, refuse a bad expression, pause, delete; the runs list shows triggers', async () => {
  const flowId = await e2e.createFlow('Scheduled', graph);
  const page = await e2e.newPage();
  await page.goto(`${e2e.baseUrl}/#/flows/${flowId}`);
  await page.getByTestId('open-schedules').click();
  const panel = page.getByTestId('schedules');
  await expect.poll(() => panel.textContent()).toContain('No schedules');

  // A refused expression: the server's message, nothing stored.
  await page.getByTestId('schedule-cron-input').fill('0 25 * * *');
  await page.getByTestId('schedule-add').click();
  await expect.poll(() => page.getByTestId('schedule-error').textContent()).toMatch(/cron/i);
  e2e.allowProblems(/400/);

  // Every second, in a named zone, with an input.
  await page.getByTestId('schedule-cron-input').fill('* * * * * *');
  await page.getByTestId('schedule-timezone-input').fill('Europe/Berlin');
  await page.getByTestId('schedule-input-input').fill('{"from":"panel"}');
  await page.getByTestId('schedule-budget-input').fill('-1'); // refused in the form: JSON cannot carry every bad number
  await page.getByTestId('schedule-add').click();
  await expect.poll(() => page.getByTestId('schedule-error').textContent()).toMatch(/budget must be a non-negative number/);
  expect((await e2e.api<{ schedules: unknown[] }>('GET', `/api/flows/${flowId}/schedules`)).schedules).toEqual([]);
  await page.getByTestId('schedule-budget-input').fill('0.5');
  await page.getByTestId('schedule-add').click();
  const row = page.getByTestId('schedule-row');
  await expect.poll(() => row.count()).toBe(1);
  expect(await row.getByTestId('schedule-cron').textContent()).toBe('* * * * * *');
  expect(await row.textContent()).toContain('Europe/Berlin');
  expect(await row.getByTestId('schedule-next').textContent()).toMatch(/^next /);
  expect(await row.getByTestId('schedule-budget').textContent()).toBe('budget $0.5000');
  const [stored] = (await e2e.api<{ schedules: Array<{ id: string; input: unknown; timezone: string }> }>('GET', `/api/flows/${flowId}/schedules`)).schedules;
  expect(stored).toMatchObject({ timezone: 'Europe/Berlin', input: { from: 'panel' }, budgetUsd: 0.5 });

  // Runs arrive by the schedule; an API run beside them.
  await expect
    .poll(async () => (await e2e.api<{ runs: unknown[] }>('GET', `/api/runs?flowId=${flowId}&limit=10`)).runs.length, { timeout: 15_000 })
    .toBeGreaterThanOrEqual(2);
  await page.getByTestId('schedule-enabled').click(); // controlled: it unchecks once the server has the change
  await expect.poll(() => row.getByTestId('schedule-next').textContent()).toMatch(/^paused/);
  await e2e.screenshot(page, 'schedule-panel');
  await e2e.api('POST', `/api/flows/${flowId}/run`, { input: {} });

  await page.getByTestId('open-runs').click();
  await expect.poll(async () => (await page.getByTestId('run-trigger').allTextContents()).join('|'), { timeout: 10_000 }).toMatch(/^API\|schedule \S/);
  await e2e.screenshot(page, 'runs-list-triggers');

  // Delete from the panel.
  await page.goto(`${e2e.baseUrl}/#/flows/${flowId}`);
  await page.getByTestId('open-schedules').click();
  await page.getByTestId('schedule-delete').click();
  await expect.poll(() => page.getByTestId('schedules').textContent()).toContain('No schedules');
  expect((await e2e.api<{ schedules: unknown[] }>('GET', `/api/flows/${flowId}/schedules`)).schedules).toEqual([]);
  expect(e2e.problems).toEqual([]);
});

test('settings page: setting a key switches its integration in the palette from mock to real', async () => {
  const flowId = await e2e.createFlow('Palette', graph);
  const page = await e2e.newPage();
  await page.goto(`${e2e.baseUrl}/#/flows/${flowId}`);
  const claude = page.getByTestId('palette-mode-claude');
  await expect.poll(() => claude.getAttribute('data-mode')).toBe('mock');

  await page.getByTestId('nav-settings').click();
  const keyRow = page.getByTestId('key-row-ANTHROPIC_API_KEY');
  await expect.poll(() => keyRow.getAttribute('data-source')).toBe('none');
  await page.getByTestId('key-input-ANTHROPIC_API_KEY').fill('sk-ant-from-settings-0123456789');
  await page.getByTestId('key-save-ANTHROPIC_API_KEY').click();
  await expect.poll(() => keyRow.getAttribute('data-source')).toBe('vault');
  expect(await page.getByTestId('key-input-ANTHROPIC_API_KEY').inputValue()).toBe('');
  expect(await page.content()).not.toContain('sk-ant-from-settings');
  await e2e.screenshot(page, 'settings-key-set');

  await page.goto(`${e2e.baseUrl}/#/flows/${flowId}`);
  await expect.poll(() => claude.getAttribute('data-mode')).toBe('real');
  expect(await claude.textContent()).toBe('real · vault');
  await e2e.screenshot(page, 'palette-real-mode');

  // Replacing it keeps real mode; removing it goes back to mock.
  await page.getByTestId('nav-settings').click();
  await page.getByTestId('key-input-ANTHROPIC_API_KEY').fill('sk-ant-replaced-0123456789');
  await page.getByTestId('key-save-ANTHROPIC_API_KEY').click();
  await expect.poll(async () => (await e2e.api<{ credentials: Array<{ name: string; updatedAt: string }> }>('GET', '/api/credentials')).credentials.length).toBe(1);
  await page.getByTestId('key-remove-ANTHROPIC_API_KEY').click();
  await expect.poll(() => keyRow.getAttribute('data-source')).toBe('none');
  await page.goto(`${e2e.baseUrl}/#/flows/${flowId}`);
  await expect.poll(() => claude.getAttribute('data-mode')).toBe('mock');
  expect(e2e.problems).toEqual([]);
});

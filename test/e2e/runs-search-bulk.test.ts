/**
 * The runs list as an operator uses it: filter every flow's runs (status, an input field, a tag —
 * kept in the URL, so a reload or a shared link shows the same list), select some, re-run them in
 * bulk and watch the job's progress until it completes.
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import { startE2E, type E2E } from './harness';
import { registerTestWorker, syncWorker } from '../helpers';

let e2e: E2E;
/** The vendor fails for otters while this is set; the bulk re-run comes after it is cleared. */
let otterOutage = true;

beforeAll(async () => {
  registerTestWorker(
    'otter-vendor',
    syncWorker((input: { topic?: string }) => {
      if (otterOutage && input.topic === 'otters') throw new Error('otter vendor is down');
      return { story: `a story about ${input.topic}` };
    }),
    { name: 'Otter vendor', category: 'Testing', description: 'Fails for otters during an outage.', retry: { attempts: 1 } },
  );
  e2e = await startE2E();
});
afterAll(async () => {
  await e2e?.close();
});

const node = (id: string, type: string, x: number, data: Record<string, unknown> = {}) => ({ id, type, position: { x, y: 0 }, data: { label: id, ...data } });

interface Run {
  id: string;
  status: string;
  trigger: { type?: string; of?: string; bulkJobId?: string };
}

test('filter the runs list, select runs, bulk re-run them and watch the progress', async () => {
  const flowId = await e2e.createFlow('Stories', {
    nodes: [node('start', 'start', 0), node('call', 'worker', 280, { workerType: 'otter-vendor' }), node('end', 'end', 560)],
    edges: [
      { id: 'e0', source: 'start', target: 'call' },
      { id: 'e1', source: 'call', target: 'end' },
    ],
  });
  const start = (topic: string, customer: string) =>
    e2e.api<{ runId: string }>('POST', `/api/flows/${flowId}/run`, { input: { topic }, tags: { customer } }).then((r) => r.runId);
  const acmeOtters = [await start('otters', 'acme'), await start('otters', 'acme'), await start('otters', 'acme'), await start('otters', 'acme')];
  const others = [await start('otters', 'globex'), await start('seals', 'acme')];
  const runOf = (id: string) => e2e.api<Run>('GET', `/api/runs/${id}`);
  for (const id of [...acmeOtters, ...others]) {
    await expect.poll(async () => ['completed', 'failed'].includes((await runOf(id)).status), { timeout: 30_000 }).toBe(true);
  }

  const page = await e2e.newPage();
  await page.goto(`${e2e.baseUrl}/#/runs`);
  const rows = page.getByTestId('run-row');
  await expect.poll(() => rows.count(), { timeout: 15_000 }).toBe(6);

  // Filters: failed, input.topic=otters, tag customer=acme — each lands in the URL.
  await page.getByTestId('filter-failed').click();
  await page.getByTestId('filter-input').fill('topic=otters');
  await page.getByTestId('filter-input').press('Enter');
  await page.getByTestId('filter-tag').fill('customer=acme');
  await page.getByTestId('filter-tag').press('Enter');
  await expect.poll(() => rows.count(), { timeout: 15_000 }).toBe(4);
  const url = new URL(page.url().replace('#/runs?', 'runs?'));
  expect(Object.fromEntries(url.searchParams)).toEqual({ status: 'failed', 'input.topic': 'otters', 'tag.customer': 'acme' });
  expect(new Set(await rows.evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-run-id'))))).toEqual(new Set(acmeOtters));

  // The URL is the list: a reload shows the same filters and the same runs.
  await page.reload();
  await expect.poll(() => rows.count(), { timeout: 15_000 }).toBe(4);
  expect(await page.getByTestId('filter-tag').inputValue()).toBe('customer=acme');
  expect(await page.getByTestId('filter-input').inputValue()).toBe('topic=otters');

  // Select three of the four and re-run them once the vendor is back.
  otterOutage = false;
  const chosen = acmeOtters.slice(0, 3);
  for (const id of chosen) await page.locator(`tr[data-run-id="${id}"] [data-testid="select-run"]`).check();
  expect(await page.getByTestId('bulk-bar').textContent()).toContain('3 selected');
  await page.getByTestId('bulk-rerun').click();
  const count = page.getByTestId('bulk-count');
  await expect.poll(() => count.getAttribute('data-count'), { timeout: 15_000 }).toBe('3');
  await e2e.screenshot(page, 'bulk-rerun-confirm');
  await page.getByTestId('bulk-confirm').click();

  // The progress bar follows the job's stream to the end.
  const progress = page.getByTestId('bulk-progress');
  await expect.poll(() => progress.getAttribute('data-state'), { timeout: 60_000 }).toBe('completed');
  expect(await progress.getAttribute('data-done')).toBe('3');
  expect(await progress.getAttribute('data-total')).toBe('3');
  expect(await page.getByTestId('bulk-summary').textContent()).toContain('3 done');
  await e2e.screenshot(page, 'bulk-rerun-done');

  // Each chosen run was re-run once, by the job, and the re-runs complete; the fourth was left alone.
  const { runs } = await e2e.api<{ runs: Run[] }>('GET', `/api/runs?flowId=${flowId}&trigger=rerun&limit=50`);
  expect(runs.map((r) => r.trigger.of).sort()).toEqual([...chosen].sort());
  for (const r of runs) await expect.poll(async () => (await runOf(r.id)).status, { timeout: 30_000 }).toBe('completed');
  expect(new Set(runs.map((r) => r.trigger.bulkJobId)).size).toBe(1);

  await page.getByTestId('bulk-close').click();
  expect(e2e.problems).toEqual([]);
});

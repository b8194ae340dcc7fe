/**
 * Experiments on a real database and queue, counted at a loopback fake vendor: 20 rows × 2
 * variants that differ in one node's prompt (an override, no version saved) execute the shared
 * upstream node 20 times, not 40, and report what sharing saved; cells are ordinary runs tagged
 * with the experiment; assertions and a judge flow score them; a budget stops the whole
 * experiment; a cancel stops it and its runs.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { VisualGraph } from '@/types/stitch';
import { startFakeVendor, type FakeVendor } from '@/lib/workers/testing';
import { reportUsage, triggerCallback } from '@/lib/workers/utils';
import { eventually, graph, registerTestWorker } from '../helpers';
import { setEnv, tempDataDir } from '../vendors/env';
import { startTestServer, type TestServer } from './http';

let t: TestServer;
let vendor: FakeVendor;
let restore: () => void;
/** Requests to /v1/hold wait here until the test lets them go. */
const held: Array<() => void> = [];

const post = async (url: string, body: unknown) => {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return (await response.json()) as Record<string, unknown>;
};

beforeAll(async () => {
  vendor = await startFakeVendor({
    'POST /v1/research': (r) => ({ json: { facts: `facts about ${(r.body as { topic: string }).topic}` } }),
    'POST /v1/write': (r) => ({ json: { text: `${(r.body as { prompt: string }).prompt}: ${(r.body as { facts: string }).facts}` } }),
    'POST /v1/hold': () => new Promise((resolve) => held.push(() => resolve({ json: { ok: true } }))),
  });
  // research → writer: the writer's prompt is its setting; each call is billed one request.
  registerTestWorker('research', class {
    async execute(runId: string, nodeId: string, _config: unknown, input: { topic: string }) {
      const out = await post(`${vendor.url}/v1/research`, { topic: input.topic });
      await reportUsage(runId, nodeId, [{ unit: 'requests', quantity: 1 }]);
      await triggerCallback(runId, nodeId, { status: 'completed', output: out });
    }
  });
  registerTestWorker('writer', class {
    async execute(runId: string, nodeId: string, config: { prompt?: string }, input: { facts: string }) {
      const out = await post(`${vendor.url}/v1/write`, { prompt: config.prompt ?? 'A', facts: input.facts });
      await reportUsage(runId, nodeId, [{ unit: 'requests', quantity: 1 }]);
      await triggerCallback(runId, nodeId, { status: 'completed', output: out });
    }
  });
  registerTestWorker('holder', class {
    async execute(runId: string, nodeId: string) {
      await post(`${vendor.url}/v1/hold`, {});
      await triggerCallback(runId, nodeId, { status: 'completed', output: { held: true } });
    }
  });
  // The judge: 1 when the text is variant B's, else 0.5.
  registerTestWorker('judge', class {
    async execute(runId: string, nodeId: string, _config: unknown, input: { output: { text: string } }) {
      const b = input.output.text.startsWith('B');
      await triggerCallback(runId, nodeId, { status: 'completed', output: { score: b ? 1 : 0.5, reason: b ? 'has B' : 'no B' } });
    }
  });
  const dir = tempDataDir();
  const prices = path.join(dir, 'prices.json');
  writeFileSync(prices, JSON.stringify({ research: { units: { requests: 0.01 } }, writer: { units: { requests: 0.02 } } }));
  restore = setEnv({ STITCH_PRICES: prices, STITCH_DATA_DIR: dir });
  t = await startTestServer({ env: { STITCH_PRICES: prices } });
}, 60_000);
afterAll(async () => {
  while (held.length) held.shift()!();
  await t?.close();
  await vendor?.close();
  restore?.();
});

const pipeline: VisualGraph = graph(['start:start', { id: 'research', workerType: 'research' }, { id: 'writer', workerType: 'writer', config: { prompt: 'A' } }, 'end:end'], [
  ['start', 'research'],
  ['research', 'writer'],
  ['writer', 'end'],
]);

async function flow(name: string, g: VisualGraph): Promise<string> {
  const r = await t.api('POST', '/api/flows', { name, graph: g });
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  return r.body.id;
}
async function dataset(name: string, n: number): Promise<string> {
  const r = await t.api('POST', '/api/datasets', { name, rows: Array.from({ length: n }, (_, i) => ({ input: { topic: `${name}-${i}` }, expected: { topic: `${name}-${i}` } })) });
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  return r.body.id;
}
const calls = (route: string, prefix: string) => vendor.requests.filter((r) => r.path === route && JSON.stringify(r.body).includes(prefix)).length;
/** The experiment once it has ended (the exact state the assertions then read). */
const ended = (id: string, query = '?limit=200') =>
  eventually(async () => {
    const r = await t.api('GET', `/api/experiments/${id}${query}`);
    return r.body.status !== 'running' && r.body;
  }, 60_000);

describe('experiments', () => {
  it('20 rows × 2 variants differing in one prompt: the shared node executes 20 times, not 40, and the saving is reported', async () => {
    const flowId = await flow('pipeline', pipeline);
    const datasetId = await dataset('topics', 20);
    const created = await t.api('POST', '/api/experiments', {
      flowId,
      datasetId: 'topics',
      variants: [{ label: 'A' }, { label: 'B', nodeOverrides: { writer: { config: { prompt: 'B' } } } }],
      concurrency: 40,
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(created.body).toMatchObject({ status: 'running', dataset: { id: datasetId, version: 1 }, progress: { cells: 40 } });
    const x = await ended(created.body.id);
    expect(x.status).toBe('completed');

    // Counted at the vendor: research once per row, the writer once per row and variant.
    expect(calls('/v1/research', 'topics-')).toBe(20);
    expect(calls('/v1/write', 'topics-')).toBe(40);
    expect(x.summary.map((s: any) => [s.label, s.completed, s.failed])).toEqual([
      ['A', 20, 0],
      ['B', 20, 0],
    ]);
    // Spent: 20 research ($0.01) + 40 writes ($0.02); saved: the 20 research results the other variant reused.
    expect(x.cost).toEqual({ usd: 1, savedUsd: 0.2 });

    // Every row has both variants' cells, outputs differing where the prompt does.
    expect(x.rows).toHaveLength(20);
    const row = x.rows[3];
    expect(row.variants.map((c: any) => [c.label, c.status, c.output.text])).toEqual([
      ['A', 'completed', 'A: facts about topics-3'],
      ['B', 'completed', 'B: facts about topics-3'],
    ]);
    // Cells are ordinary runs, tagged with the experiment, row and variant; B ran a detached version.
    const run = (await t.api('GET', `/api/runs/${row.variants[1].runId}`)).body;
    expect(run.tags).toEqual({ experiment: x.id, row: '3', variant: 'B' });
    expect(run.trigger).toMatchObject({ type: 'experiment', experimentId: x.id, row: 3, variant: 'B' });
    expect(x.variants[1]).toMatchObject({ label: 'B', version: null, nodeOverrides: { writer: { config: { prompt: 'B' } } } });
    expect((await t.api('GET', `/api/flows/${flowId}/versions`)).body.versions).toHaveLength(1); // no version was saved for B

    // Rows page by page.
    const page = (await t.api('GET', `/api/experiments/${x.id}?limit=15`)).body;
    expect(page.rows).toHaveLength(15);
    const rest = (await t.api('GET', `/api/experiments/${x.id}?limit=15&cursor=${page.nextCursor}`)).body;
    expect(rest.rows.map((r: any) => r.idx)).toEqual([15, 16, 17, 18, 19]);
    expect(rest.nextCursor).toBeNull();
    expect((await t.api('GET', `/api/experiments?flowId=${flowId}`)).body.experiments.map((e: any) => e.id)).toEqual([x.id]);
  });

  it('scores with assertions and a judge flow; the summary gives pass rate and mean score per variant', async () => {
    const flowId = await flow('scored', pipeline);
    await dataset('scored', 3);
    const judgeFlow = await flow('judge', graph(['start:start', { id: 'judge', workerType: 'judge' }, 'end:end'], [['start', 'judge'], ['judge', 'end']]));
    const created = await t.api('POST', '/api/experiments', {
      flowId,
      datasetId: 'scored',
      variants: [{ label: 'A', version: 1 }, { label: 'B', nodeOverrides: { writer: { config: { prompt: 'B' } } } }],
      scoring: { assertions: ['{{ output.text contains "B" }}', 'exists output.text'], judge: { flowId: judgeFlow } },
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const x = await ended(created.body.id);
    expect(x.status).toBe('completed');
    expect(x.summary.map((s: any) => [s.label, s.passRate, s.meanScore])).toEqual([
      ['A', 0, 0.5],
      ['B', 1, 1],
    ]);
    const cell = x.rows[0].variants[1];
    expect(cell).toMatchObject({ passed: true, score: 1, scoreDetail: { reason: 'has B', assertions: [{ passed: true }, { passed: true }] } });
    expect((await t.api('GET', `/api/runs/${cell.judgeRunId}`)).body.input).toMatchObject({ input: { topic: 'scored-0' }, output: { text: 'B: facts about scored-0' }, expected: { topic: 'scored-0' } });

    // A bad assertion, an unknown node to override, an unknown version: 400s that name them, nothing created.
    const before = (await t.api('GET', '/api/experiments')).body.experiments.length;
    const bad = await t.api('POST', '/api/experiments', { flowId, datasetId: 'scored', variants: [{ label: 'A' }], scoring: { assertions: ['output.text >'] } });
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toMatch(/^scoring.assertions\[0\]/);
    const node = await t.api('POST', '/api/experiments', { flowId, datasetId: 'scored', variants: [{ label: 'A', nodeOverrides: { writr: { config: {} } } }] });
    expect(node.status).toBe(400);
    expect(node.body.error.message).toMatch(/no node "writr" \(did you mean "writer"\?\)/);
    expect((await t.api('POST', '/api/experiments', { flowId, datasetId: 'scored', variants: [{ label: 'A', version: 9 }] })).status).toBe(400);
    expect((await t.api('POST', '/api/experiments', { flowId, datasetId: 'scored', variants: [{ label: 'A' }, { label: 'A' }] })).status).toBe(400);
    expect((await t.api('POST', '/api/experiments', { flowId, datasetId: 'nope', variants: [{ label: 'A' }] })).status).toBe(404);
    expect((await t.api('GET', '/api/experiments')).body.experiments.length).toBe(before);
  });

  it('a budget stops the whole experiment: its open runs are cancelled, cells never started end cancelled', async () => {
    const flowId = await flow('budgeted', pipeline);
    await dataset('budget', 10);
    const created = await t.api('POST', '/api/experiments', { flowId, datasetId: 'budget', variants: [{ label: 'A' }], concurrency: 1, budgetUsd: 0.05 });
    const x = await ended(created.body.id);
    expect(x.status).toBe('failed');
    expect(x.error).toMatch(/^budget_exceeded: the experiment's runs spent \$0\.0[6-9]/);
    expect(calls('/v1/research', 'budget-')).toBeLessThan(10);
    const [s] = x.summary;
    expect(s.pending + s.running).toBe(0);
    expect(s.completed).toBeLessThan(10);
    expect(s.failed).toBe(10 - s.completed);
    expect(x.cost.usd).toBeGreaterThanOrEqual(0.05);
  });

  it('cancel stops the experiment and its runs in flight', async () => {
    const flowId = await flow('held', graph(['start:start', { id: 'hold', workerType: 'holder' }, 'end:end'], [['start', 'hold'], ['hold', 'end']]));
    await dataset('held', 5);
    const created = await t.api('POST', '/api/experiments', { flowId, datasetId: 'held', variants: [{ label: 'A' }], concurrency: 2 });
    const id = created.body.id;
    await eventually(async () => held.length === 2); // two runs wait at the vendor
    expect((await t.api('POST', `/api/experiments/${id}/cancel`)).status).toBe(200);
    const x = await ended(id);
    expect(x.status).toBe('cancelled');
    expect(x.rows.map((r: any) => r.variants[0].status)).toEqual(['cancelled', 'cancelled', 'cancelled', 'cancelled', 'cancelled']);
    const runId = x.rows[0].variants[0].runId;
    expect((await t.api('GET', `/api/runs/${runId}`)).body.status).toBe('cancelled');
    expect((await t.api('POST', `/api/experiments/${id}/cancel`)).status).toBe(409);
    while (held.length) held.shift()!();
    expect((await t.api('DELETE', `/api/experiments/${id}`)).status).toBe(200);
    expect((await t.api('GET', `/api/experiments/${id}`)).status).toBe(404);
    expect((await t.api('GET', `/api/runs/${runId}`)).status).toBe(200); // its runs stay
  });
});

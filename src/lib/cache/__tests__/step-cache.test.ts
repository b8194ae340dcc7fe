/**
 * The step cache: a hit completes at once (`origin: "cached"`, `node:cached`, what it saved);
 * single flight — two runs, one vendor call, counted at a loopback fake vendor — and a failed
 * first flight lets the waiting twin execute; entries expire after their TTL; credentials enter
 * the key by identity, never by value; DELETE /api/cache drops entries.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { VisualGraph } from '@/types/stitch';
import { NonRetriableError } from '@/lib/errors';
import { getPool } from '@/lib/db/pool';
import { getRunEvents } from '@/lib/db/runs';
import { startFakeVendor, type FakeVendor } from '@/lib/workers/testing';
import { reportUsage, triggerCallback } from '@/lib/workers/utils';
import { graph, registerTestWorker, waitForRun } from '../../../../test/helpers';
import { startTestServer, type TestServer } from '../../../../test/server/http';
import { setEnv, tempDataDir } from '../../../../test/vendors/env';
import { ANTHROPIC_KEY, startFakeAnthropic, type FakeAnthropic } from '../../../../test/vendors/anthropic';

let server: TestServer;
let vendor: FakeVendor;
let anthropic: FakeAnthropic;
let restore: () => void;
/** Vendor answers wait for a release: the test decides when the first flight lands, and how. */
const gates: Array<(answer: { status: number }) => void> = [];

beforeAll(async () => {
  vendor = await startFakeVendor({
    'POST /v1/answer': (request) =>
      new Promise((resolve) => {
        gates.push(({ status }) => resolve(status === 200 ? { json: { answer: `answer to ${(request.body as { q: string }).q}` } } : { status, json: { error: 'down' } }));
      }),
  });
  anthropic = await startFakeAnthropic();
  registerTestWorker(
    'oracle',
    class {
      async execute(runId: string, nodeId: string, _config: unknown, input: { q: string }) {
        const response = await fetch(`${vendor.url}/v1/answer`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ q: input.q }) });
        if (!response.ok) throw new NonRetriableError(`oracle answered ${response.status}`);
        await reportUsage(runId, nodeId, [{ unit: 'requests', quantity: 1 }]);
        await triggerCallback(runId, nodeId, { status: 'completed', output: { ...input, ...((await response.json()) as object) } });
      }
    },
  );
  restore = setEnv({ ANTHROPIC_API_URL: anthropic.url, STITCH_DATA_DIR: tempDataDir() });
  server = await startTestServer({ env: { ANTHROPIC_API_KEY: ANTHROPIC_KEY, ANTHROPIC_API_URL: anthropic.url } });
});
afterAll(async () => {
  await server?.close();
  await vendor?.close();
  await anthropic?.close();
  restore?.();
});

const oracleFlow = (cache: unknown): VisualGraph => graph([{ id: 'ask', workerType: 'oracle', cache }], []);

async function start(flowId: string, input: unknown): Promise<string> {
  const r = await server.api('POST', `/api/flows/${flowId}/run`, { input });
  expect(r.status).toBe(202);
  return r.body.runId;
}
async function flow(g: VisualGraph): Promise<string> {
  const r = await server.api('POST', '/api/flows', { name: `cache-${Math.random()}`, graph: g });
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  return r.body.id;
}
const view = async (runId: string) => (await server.api('GET', `/api/runs/${runId}`)).body;
/** Wait until the vendor holds `n` requests in total, then answer the oldest unanswered one. */
async function release(n: number, status = 200) {
  while (vendor.requests.length < n || gates.length === 0) await new Promise((r) => setTimeout(r, 20));
  gates.shift()!({ status });
}
const answered = () => vendor.requests.length;
/** Until the node of `runId` says it waits for the flight of `owner` (single flight). */
async function waitingFor(runId: string, owner: string) {
  for (;;) {
    const { rows } = await getPool().query(`SELECT metadata -> 'cacheWait' ->> 'runId' AS owner FROM stitch_node_runs WHERE run_id = $1 AND instance_id = 'ask'`, [runId]);
    if (rows[0]?.owner === owner) return;
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Two runs of one cached node with the same input: the second is waiting for the first's flight. */
async function twins(q: string) {
  const flowId = await flow(oracleFlow(true));
  const before = answered();
  const first = await start(flowId, { q });
  while (answered() < before + 1) await new Promise((r) => setTimeout(r, 20));
  const second = await start(flowId, { q });
  await waitingFor(second, first);
  return { flowId, before, first, second };
}

describe('step cache', () => {
  it('single flight: two identical nodes in two runs make one vendor call; a later run is a hit', async () => {
    const { flowId, before, first, second } = await twins('otters?');
    expect(answered()).toBe(before + 1);
    await release(before + 1);
    const [a, b] = [await waitForRun(first), await waitForRun(second)];
    expect([a.status, b.status]).toEqual(['completed', 'completed']);
    expect(answered()).toBe(before + 1);
    expect(b.nodes.ask.output).toEqual(a.nodes.ask.output);
    const bv = await view(second);
    expect(bv.nodes.ask).toMatchObject({ origin: 'cached', reusedFrom: { runId: first, instanceId: 'ask' }, costUsd: 0 });

    const third = await start(flowId, { q: 'otters?' });
    const c = await waitForRun(third);
    expect(c.nodes.ask.output).toEqual(a.nodes.ask.output);
    expect(answered()).toBe(before + 1);
    expect((await getRunEvents(third)).map((e) => e.type)).toContain('node:cached');
    // Another input is another key.
    const other = await start(flowId, { q: 'beavers?' });
    await release(before + 2);
    expect((await waitForRun(other)).nodes.ask.output).toMatchObject({ answer: 'answer to beavers?' });
  });

  it('when the first flight fails, the waiting twin executes', async () => {
    const { flowId, before, first, second } = await twins('fails first');
    await release(before + 1, 500);
    expect((await waitForRun(first)).status).toBe('failed');
    await release(before + 2);
    const b = await waitForRun(second);
    expect(b.status).toBe('completed');
    expect((await view(second)).nodes.ask.origin).toBe('executed');
  });

  it('an entry expires after its ttlSeconds', async () => {
    const flowId = await flow(oracleFlow({ ttlSeconds: 1 }));
    const before = answered();
    const first = await start(flowId, { q: 'short-lived' });
    await release(before + 1);
    await waitForRun(first);
    // Not a fixed sleep: wait until the database says the entry is past its time.
    for (;;) {
      const { rows } = await getPool().query(`SELECT expires_at <= now() AS expired FROM stitch_cache WHERE run_id = $1`, [first]);
      if (rows[0]?.expired) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const second = await start(flowId, { q: 'short-lived' });
    await release(before + 2);
    expect((await waitForRun(second)).status).toBe('completed');
    expect((await view(second)).nodes.ask.origin).toBe('executed');
  });

  it('keys credentials by identity, never by value; DELETE /api/cache drops entries', async () => {
    const flowId = await flow(graph([{ id: 'c', workerType: 'claude', cache: true, config: { prompt: 'Hi {{topic}}' } }], []));
    const first = await waitForRun(await start(flowId, { topic: 'otters' }));
    expect(first.status).toBe('completed');
    const calls = anthropic.requests.length;
    const again = await waitForRun(await start(flowId, { topic: 'otters' }));
    expect(anthropic.requests.length).toBe(calls);
    expect(again.nodes.c.metadata.origin).toBe('cached');
    const { rows } = await getPool().query(`SELECT to_jsonb(c)::text AS row FROM stitch_cache c WHERE worker_type = 'claude'`);
    expect(rows).toHaveLength(1);
    const { rows: nodes } = await getPool().query(`SELECT metadata::text AS m FROM stitch_node_runs WHERE run_id = $1`, [first.id]);
    for (const text of [rows[0].row, nodes[0].m]) expect(text).not.toContain(ANTHROPIC_KEY);

    const cleared = await server.api('DELETE', '/api/cache?workerType=claude');
    expect(cleared).toMatchObject({ status: 200, body: { deleted: 1 } });
    expect((await getPool().query(`SELECT count(*)::int AS n FROM stitch_cache WHERE worker_type = 'claude'`)).rows[0].n).toBe(0);
    expect((await getPool().query(`SELECT count(*)::int AS n FROM stitch_cache WHERE worker_type = 'oracle'`)).rows[0].n).toBeGreaterThan(0);
    const bad = await server.api('POST', '/api/flows', { name: 'bad-cache', graph: graph([{ id: 'c', workerType: 'claude', cache: { ttlSeconds: -1 } }], []) });
    expect(bad.status).toBe(400);
  });
});

/**
 * Fair share across two processes on one database (this test's runner and a `worker` process):
 * per-key concurrency of nodes and of flows is never exceeded (sampled from the database all along),
 * a rate limit holds over every window, a key with one waiting run goes before a flooding key's
 * next ten, a priority-10 run waiting behind a limit goes before the priority-0 ones, and the
 * waiting reason is shown on the node and in its events. docs/limits.md.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getPool } from '@/lib/db/pool';
import { startRun } from '@/lib/engine/start-run';
import { eventually, graph, waitForRun } from '../../../../test/helpers';
import { startTestServer, type TestServer } from '../../../../test/server/http';
import { spawnStitch, type StitchProcess } from '../../../../test/server/processes';

let server: TestServer;
let worker: StitchProcess;

beforeAll(async () => {
  server = await startTestServer();
  worker = spawnStitch(['worker', '--concurrency', '6'], { DATABASE_URL: server.stitch.url, STITCH_SECRET: 'test-secret-0123456789' });
  await worker.waitFor(/Stitch worker \S+ is ready/);
}, 120_000);
afterAll(async () => {
  await worker?.stop();
  await server?.close();
});

async function newFlow(g: unknown): Promise<string> {
  const r = await server.api('POST', '/api/flows', { name: `fair-${Math.random()}`, graph: g });
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  return r.body.id as string;
}

const q = async <T>(sql: string, params: unknown[] = []): Promise<T[]> => (await getPool().query(sql, params)).rows as T[];

/** Sample `read` every few milliseconds until `done` resolves; the largest value seen per key. */
async function sampleMax(read: () => Promise<Array<{ k: string; n: number }>>, done: Promise<unknown>): Promise<Record<string, number>> {
  const max: Record<string, number> = {};
  let finished = false;
  void done.finally(() => (finished = true));
  while (!finished) {
    for (const { k, n } of await read()) max[k] = Math.max(max[k] ?? 0, n);
    await new Promise((r) => setTimeout(r, 10));
  }
  await done;
  return max;
}

/**
 * Every slot of a scope seen while `done` is pending (a flow's run slot lives as long as its run,
 * at least a wait node's seconds, so a 10 ms sample sees each): run id → when it was taken.
 */
async function watchSlots(scope: string, done: Promise<unknown>): Promise<Map<string, { key: string; at: number }>> {
  const seen = new Map<string, { key: string; at: number }>();
  let finished = false;
  void done.finally(() => (finished = true));
  while (!finished) {
    const rows = await q<{ run_id: string; key: string; at: number }>(
      'SELECT run_id, key, extract(epoch FROM acquired_at)::float8 AS at FROM stitch_fair_slots WHERE scope = $1',
      [scope],
    );
    for (const r of rows) seen.set(r.run_id, { key: r.key, at: r.at });
    await new Promise((r) => setTimeout(r, 10));
  }
  await done;
  return seen;
}

describe('fair share', () => {
  it('a node with a per-key concurrency of 2 never runs more than 2 per key, across both processes, and shows why it waits', async () => {
    const flowId = await newFlow(
      graph(
        ['in:start', { id: 'w', workerType: 'wait', config: { seconds: 0.4 }, concurrency: { limit: 2, key: '{{tags.customer}}' } }, 'out:end'],
        [['in', 'w'], ['w', 'out']],
      ),
    );
    const runs: string[] = [];
    for (let i = 0; i < 6; i++) {
      for (const customer of ['acme', 'bob']) runs.push((await startRun(flowId, { input: { i }, tags: { customer } })).runId);
    }
    const max = await sampleMax(
      () =>
        q(
          `SELECT r.tags ->> 'customer' AS k, count(*)::int AS n FROM stitch_node_runs n JOIN stitch_runs r ON r.id = n.run_id
           WHERE r.flow_id = $1 AND n.node_id = 'w' AND n.status = 'running' GROUP BY 1`,
          [flowId],
        ),
      Promise.all(runs.map((id) => waitForRun(id, { timeoutMs: 60_000 }))),
    );
    expect(Object.keys(max).sort()).toEqual(['acme', 'bob']);
    expect(Math.max(...Object.values(max))).toBeLessThanOrEqual(2);
    for (const id of runs) expect((await server.api('GET', `/api/runs/${id}`)).body.status).toBe('completed');
    const queued = await q<{ payload: { reason: string } }>(
      `SELECT e.payload FROM stitch_events e JOIN stitch_runs r ON r.id = e.run_id WHERE r.flow_id = $1 AND e.type = 'node:queued' AND e.payload ->> 'queued' = 'true'`,
      [flowId],
    );
    expect(queued.length).toBeGreaterThan(0);
    // "2/2" as a rule; "1/2" when it arrived while its key's next waiter was being granted.
    for (const e of queued) expect(e.payload.reason).toMatch(/^concurrency customer=(acme|bob) [12]\/2$/);
  }, 120_000);

  it("a flow's per-key concurrency of 2 holds its runs: the others wait without queue jobs, then all complete", async () => {
    const g = { ...graph(['in:start', { id: 'w', workerType: 'wait', config: { seconds: 0.3 } }, 'out:end'], [['in', 'w'], ['w', 'out']]), concurrency: { limit: 2, key: '{{tags.customer}}' } };
    const flowId = await newFlow(g);
    const runs: string[] = [];
    for (let i = 0; i < 5; i++) {
      for (const customer of ['acme', 'bob']) runs.push((await startRun(flowId, { input: { i }, tags: { customer } })).runId);
    }
    // A run is active from its first node's start until it ends.
    const max = await sampleMax(
      () =>
        q(
          `SELECT r.tags ->> 'customer' AS k, count(*)::int AS n FROM stitch_runs r
           WHERE r.flow_id = $1 AND r.status = 'running' AND EXISTS (SELECT 1 FROM stitch_node_runs n WHERE n.run_id = r.id AND n.status <> 'pending')
           GROUP BY 1`,
          [flowId],
        ),
      Promise.all(runs.map((id) => waitForRun(id, { timeoutMs: 60_000 }))),
    );
    expect(max.acme).toBeLessThanOrEqual(2);
    expect(max.bob).toBeLessThanOrEqual(2);
    for (const id of runs) expect((await server.api('GET', `/api/runs/${id}`)).body.status).toBe('completed');
    const queued = await q<{ n: number }>(
      `SELECT count(*)::int AS n FROM stitch_events e JOIN stitch_runs r ON r.id = e.run_id WHERE r.flow_id = $1 AND e.type = 'run:queued' AND e.payload ->> 'queued' = 'true'`,
      [flowId],
    );
    expect(queued[0].n).toBeGreaterThan(0);
  }, 120_000);

  it('a rate limit of 3 per second holds over every window across both processes', async () => {
    const flowId = await newFlow(
      graph(['in:start', { id: 't', workerType: 'transform', config: { set: { x: 1 } }, rateLimit: { limit: 3, per: 'second' } }, 'out:end'], [['in', 't'], ['t', 'out']]),
    );
    const runs: string[] = [];
    for (let i = 0; i < 12; i++) runs.push((await startRun(flowId, { input: { i } })).runId);
    for (const id of runs) expect((await waitForRun(id, { timeoutMs: 60_000 })).status).toBe('completed');
    // Every start is a slot row (kept a minute), stamped under the scope's lock.
    const starts = (
      await q<{ at: number }>(`SELECT extract(epoch FROM acquired_at)::float8 AS at FROM stitch_fair_slots WHERE scope = $1 ORDER BY acquired_at`, [`rate:${flowId}:t`])
    ).map((r) => r.at);
    expect(starts).toHaveLength(12);
    // Any 4 consecutive starts span at least a second: no window of one second holds 4.
    for (let i = 3; i < starts.length; i++) expect(starts[i] - starts[i - 3]).toBeGreaterThanOrEqual(1);
  }, 120_000);

  it("key B's one run starts before key A's next ten, with 500 of A's waiting", async () => {
    const g = { ...graph(['in:start', { id: 'w', workerType: 'wait', config: { seconds: 1 } }, 'out:end'], [['in', 'w'], ['w', 'out']]), concurrency: { limit: 2, key: '{{tags.customer}}' } };
    const flowId = await newFlow(g);
    const backlog = Number(process.env.STITCH_FAIR_TEST_BACKLOG ?? 500);
    for (let i = 0; i < backlog; i++) await startRun(flowId, { input: { i }, tags: { customer: 'a' } });
    const b = (await startRun(flowId, { input: {}, tags: { customer: 'b' } })).runId;
    const seen = await watchSlots(`flow:${flowId}`, waitForRun(b, { timeoutMs: 60_000 }));
    expect((await waitForRun(b)).status).toBe('completed');
    const bAt = seen.get(b)!.at;
    const aAfterStart = [...seen.values()].filter((s) => s.key === 'a' && s.at < bAt);
    // A's first two took their slots at once; at most a few more of A's started before B's.
    expect(aAfterStart.length - 2).toBeLessThan(10);

    // Seen from outside: A's backlog by key in /api/queues and in the metrics.
    const page = await server.api('GET', '/api/queues?limit=200');
    expect(page.status).toBe(200);
    const queue = page.body.queues.find((x: { scope: string }) => x.scope === `flow:${flowId}`);
    // Active is 2 but for the moment between a run's end and the grant of the next: at most 2.
    expect(queue).toMatchObject({ kind: 'concurrency', flowId, nodeId: null, limit: 2, keyName: 'customer' });
    expect(queue.keys[0].key).toBe('a');
    expect(queue.keys[0].active).toBeLessThanOrEqual(2);
    expect(queue.keys[0].waiting).toBeGreaterThan(backlog / 2);
    const metrics = await fetch(`${server.url}/metrics`).then((r) => r.text());
    expect(metrics).toMatch(new RegExp(`stitch_fair_work\\{flow="[^"]+",node="",kind="concurrency",key="a",state="waiting"\\} \\d+`));
    await getPool().query(`UPDATE stitch_runs SET status = 'cancelled' WHERE flow_id = $1 AND status = 'running'`, [flowId]);
  }, 180_000);

  it('with work backed up behind a limit, a priority-10 run starts before the waiting priority-0 ones', async () => {
    // Each run holds the one slot for a second: longer than the seven starts take, so six wait.
    const g = { ...graph(['in:start', { id: 'w', workerType: 'wait', config: { seconds: 1 } }, 'out:end'], [['in', 'w'], ['w', 'out']]), concurrency: { limit: 1 } };
    const flowId = await newFlow(g);
    const low: string[] = [];
    for (let i = 0; i < 6; i++) low.push((await startRun(flowId, { input: { i } })).runId);
    const high = (await startRun(flowId, { input: {}, priority: 10 })).runId;
    const seen = await watchSlots(`flow:${flowId}`, Promise.all([...low, high].map((id) => waitForRun(id, { timeoutMs: 60_000 }))));
    const order = [...seen.entries()].sort((x, y) => x[1].at - y[1].at).map(([id]) => id);
    expect(order).toHaveLength(7);
    // The first low run took the free slot at once; the high one went next, before the five that waited.
    expect(order.indexOf(high)).toBe(1);
  }, 120_000);
});

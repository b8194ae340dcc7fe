/**
 * Real OS processes against one database: a runner killed with SIGKILL mid-run loses nothing, and
 * two runners share the work without executing any node more often than its attempts recorded.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createFlow } from '@/lib/engine/flows';
import { getPool } from '@/lib/db/pool';
import { startRun } from '@/lib/engine/start-run';
import { eventually, graph, registerTestWorker, syncWorker } from '../../../../test/helpers';
import { startTestStitch, type TestStitch } from '../../../../test/db';
import { spawnTsx, type SpawnedProcess } from '../../../../test/processes';

let stitch: TestStitch;
const children: SpawnedProcess[] = [];

function runner(extra: Record<string, string> = {}): SpawnedProcess {
  const p = spawnTsx('test/fixtures/runner-process.ts', {
    DATABASE_URL: stitch.url,
    STITCH_SECRET: 'test-secret-0123456789',
    STITCH_HEARTBEAT_SECONDS: '0.5',
    STITCH_STALE_RUNNER_SECONDS: '2',
    STITCH_LOG_LEVEL: 'error',
    ...extra,
  });
  children.push(p);
  return p;
}

beforeAll(async () => {
  registerTestWorker('slow', syncWorker((input) => input)); // the definition the compiler needs; runners execute it
  stitch = await startTestStitch({ runner: false });
  await getPool().query('CREATE TABLE test_exec (run_id uuid, node_id text, pid int, at timestamptz DEFAULT clock_timestamp())');
});
afterEach(async () => {
  for (const c of children.splice(0)) {
    if (c.child.exitCode === null) c.child.kill('SIGKILL');
    await c.exited;
  }
});
afterAll(() => stitch?.destroy());

const chain = (ms: number) =>
  graph(
    ['a', 'b', 'c', 'd', 'e'].map((id) => ({ id, workerType: 'slow', config: { ms } })),
    [['a', 'b'], ['b', 'c'], ['c', 'd'], ['d', 'e']],
  );

async function settledCounts(runIds: string[]) {
  const { rows } = await getPool().query(
    `SELECT r.id, r.status,
            (SELECT count(*) FROM stitch_node_runs n WHERE n.run_id = r.id AND n.status = 'completed')::int AS completed,
            (SELECT count(*) FROM stitch_events e WHERE e.run_id = r.id AND e.type = 'node:completed')::int AS completions
     FROM stitch_runs r WHERE r.id = ANY ($1)`,
    [runIds],
  );
  return rows as Array<{ id: string; status: string; completed: number; completions: number }>;
}

describe('processes', () => {
  it('a runner killed with SIGKILL mid-run loses nothing: another finishes every run, each node completed once', async () => {
    const flow = await createFlow('crash', chain(150));
    const first = runner({ RUNNER_CONCURRENCY: '4' });
    await first.ready;
    const runIds: string[] = [];
    for (let i = 0; i < 8; i++) runIds.push((await startRun(flow.id, { input: { i } })).runId);
    // Kill it while work is in flight: some nodes done, jobs locked by the dying process.
    await eventually(async () => {
      const { rows } = await getPool().query(`SELECT count(*)::int AS n FROM stitch_node_runs WHERE status = 'completed' AND run_id = ANY ($1)`, [runIds]);
      return rows[0].n >= 6;
    });
    first.child.kill('SIGKILL');
    await first.exited;
    const { rows: locked } = await getPool().query('SELECT count(*)::int AS n FROM graphile_worker._private_jobs WHERE locked_at IS NOT NULL');
    expect(locked[0].n).toBeGreaterThan(0); // the dead runner's jobs are stranded until the sweeper frees them

    const second = runner();
    await second.ready;
    await eventually(async () => (await settledCounts(runIds)).every((r) => r.status === 'completed'), 60_000);
    for (const r of await settledCounts(runIds)) {
      expect(r.completed).toBe(5);
      expect(r.completions).toBe(5);
    }
  });

  it('two runner processes share 200 concurrent runs; no node executes more often than its attempts', async () => {
    const flow = await createFlow('share', chain(5));
    const a = runner();
    const b = runner();
    await Promise.all([a.ready, b.ready]);
    const runIds = await Promise.all(Array.from({ length: 200 }, (_, i) => startRun(flow.id, { input: { i } }).then((r) => r.runId)));
    await eventually(async () => (await settledCounts(runIds)).every((r) => r.status === 'completed'), 120_000);
    for (const r of await settledCounts(runIds)) expect([r.completed, r.completions]).toEqual([5, 5]);
    const { rows: over } = await getPool().query(
      `SELECT x.run_id, x.node_id, count(*)::int AS executions, n.attempt
       FROM test_exec x JOIN stitch_node_runs n ON n.run_id = x.run_id AND n.instance_id = x.node_id
       WHERE x.run_id = ANY ($1) GROUP BY x.run_id, x.node_id, n.attempt HAVING count(*) > n.attempt`,
      [runIds],
    );
    expect(over).toEqual([]);
    const { rows: pids } = await getPool().query('SELECT count(DISTINCT pid)::int AS n FROM test_exec WHERE run_id = ANY ($1)', [runIds]);
    expect(pids[0].n).toBe(2);
  });

  it('a runner whose event loop is blocked longer than the stale threshold keeps its jobs: nothing runs twice (issue 10 A.7)', async () => {
    const flow = await createFlow('stall', graph([{ id: 'a', workerType: 'slow', config: { blockMs: 5000, ms: 10 } }, { id: 'b', workerType: 'slow', config: { ms: 10 } }], [['a', 'b']]));
    const stalled = runner({ RUNNER_CONCURRENCY: '1' });
    await stalled.ready;
    const { runId } = await startRun(flow.id, { input: {} });
    await eventually(async () => (await getPool().query('SELECT 1 FROM test_exec WHERE run_id = $1', [runId])).rowCount === 1);
    // The first runner is now stuck in `a` for 5 s (> STITCH_STALE_RUNNER_SECONDS = 2) on its main thread.
    const other = runner();
    await other.ready;
    await eventually(async () => (await settledCounts([runId]))[0].status === 'completed', 60_000);
    const { rows } = await getPool().query('SELECT node_id, count(*)::int AS n FROM test_exec WHERE run_id = $1 GROUP BY node_id ORDER BY node_id', [runId]);
    expect(rows).toEqual([{ node_id: 'a', n: 1 }, { node_id: 'b', n: 1 }]);
  });

  it('jobs locked by a pool no heartbeat row names (killed before its first beat) are released too', async () => {
    const flow = await createFlow('orphan', chain(150));
    const first = runner({ RUNNER_CONCURRENCY: '4' });
    await first.ready;
    const runIds: string[] = [];
    for (let i = 0; i < 4; i++) runIds.push((await startRun(flow.id, { input: { i } })).runId);
    await eventually(async () => (await getPool().query('SELECT 1 FROM graphile_worker.jobs WHERE locked_at IS NOT NULL')).rowCount! > 0);
    first.child.kill('SIGKILL');
    await first.exited;
    // As if it died before any heartbeat named its pool: no row says whose jobs these are.
    await getPool().query('DELETE FROM stitch_runners');
    const second = runner();
    await second.ready;
    await eventually(async () => (await settledCounts(runIds)).every((r) => r.status === 'completed'), 60_000);
  });
});

/**
 * Eager dispatch (eager-dispatch.ts): a chain of sync nodes runs on the one queue job of its first
 * node, each successor leased in its predecessor's commit; leases that lost their runner become
 * ordinary jobs again and the run ends; async successors always keep their own queue job.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFlow } from '@/lib/engine/flows';
import { getPool } from '@/lib/db/pool';
import { startRun } from '@/lib/engine/start-run';
import { requeueLeases } from '@/lib/engine/eager-dispatch';
import { graph, registerTestWorker, syncWorker, waitForRun } from '../../../../test/helpers';
import { startTestStitch, type TestStitch } from '../../../../test/db';

let stitch: TestStitch;

/** graphile-worker's job id sequence (read only): how many jobs were ever added. */
async function jobsAdded(): Promise<number> {
  const { rows: seq } = await getPool().query<{ s: string }>(`SELECT pg_get_serial_sequence('graphile_worker._private_jobs', 'id') AS s`);
  const { rows } = await getPool().query<{ n: string }>(`SELECT CASE WHEN is_called THEN last_value ELSE 0 END AS n FROM ${seq[0].s}`);
  return Number(rows[0].n);
}

beforeAll(async () => {
  registerTestWorker('eager-echo', syncWorker((input, _config, { nodeId }) => ({ ...input, [nodeId]: true })));
  stitch = await startTestStitch();
});
afterAll(() => stitch?.destroy());

describe('eager dispatch', () => {
  it('runs a start → 5 sync workers → end chain on one queue job, in order, with every node settled once', async () => {
    const ids = ['a', 'b', 'c', 'd', 'f'];
    const nodes = ['s:start', ...ids.map((id) => ({ id, workerType: 'eager-echo' })), 'e:end'];
    const chain = ['s', ...ids, 'e'];
    const flow = await createFlow('eager-chain', graph(nodes, chain.slice(1).map((id, i) => [chain[i], id] as [string, string])));
    const before = await jobsAdded();
    const { runId } = await startRun(flow.id, { input: { x: 1 } });
    const run = await waitForRun(runId);
    expect(run.status).toBe('completed');
    expect(run.output).toEqual({ x: 1, a: true, b: true, c: true, d: true, f: true });
    // One execute job for the entry node; the six successors were leased, not queued.
    expect((await jobsAdded()) - before).toBe(1);
    const { rows } = await getPool().query(
      `SELECT instance_id, settle_count, leased_by FROM stitch_node_runs WHERE run_id = $1 ORDER BY finished_at, instance_id`,
      [runId],
    );
    expect(rows.map((r) => r.instance_id)).toEqual(chain);
    expect(rows.every((r) => r.settle_count === 1)).toBe(true);
    expect(rows.filter((r) => r.leased_by !== null)).toHaveLength(6);
  });

  it('turns the leases of a runner that is gone into queue jobs, and the run ends', async () => {
    const flow = await createFlow('eager-orphan', graph(['s:start', { id: 'a', workerType: 'eager-echo' }, 'e:end'], [['s', 'a'], ['a', 'e']]));
    // A run whose `a` was leased to a runner that died right after the claim's commit: no job exists
    // for it. Built by hand: the run is created with its entry settled by the dead runner.
    const { rows } = await getPool().query<{ id: string; version_id: string }>(
      `INSERT INTO stitch_runs (flow_id, version_id, status, input, trigger, started_at)
       SELECT $1, current_version_id, 'running', '{"y":2}', '{"type":"api"}', now() FROM stitch_flows WHERE id = $1
       RETURNING id, version_id`,
      [flow.id],
    );
    const runId = rows[0].id;
    await getPool().query(
      `INSERT INTO stitch_node_runs (run_id, instance_id, node_id, status, input, output, finished_at, settle_count)
       VALUES ($1, 's', 's', 'completed', '{"y":2}', '{"y":2}', now(), 1)`,
      [runId],
    );
    await getPool().query(
      `INSERT INTO stitch_node_runs (run_id, instance_id, node_id, status, arrived, live, leased_by, updated_at)
       VALUES ($1, 'a', 'a', 'pending', 1, 1, 'runner-that-died', now() - interval '1 minute')`,
      [runId],
    );
    const requeued = await requeueLeases(getPool(), { runnerId: 'runner-test', active: () => true, held: new Set() });
    expect(requeued).toBe(1);
    const run = await waitForRun(runId);
    expect(run.status).toBe('completed');
    expect(run.output).toEqual({ y: 2, a: true });
  });

  it("leaves a live runner's fresh or held leases alone", async () => {
    const { rows: runners } = await getPool().query<{ id: string }>('SELECT id FROM stitch_runners LIMIT 1');
    const flow = await createFlow('eager-held', graph(['s:start', { id: 'a', workerType: 'eager-echo' }], [['s', 'a']]));
    const { rows } = await getPool().query<{ id: string }>(
      `INSERT INTO stitch_runs (flow_id, version_id, status, input, trigger, started_at)
       SELECT $1, current_version_id, 'running', '{}', '{"type":"api"}', now() FROM stitch_flows WHERE id = $1 RETURNING id`,
      [flow.id],
    );
    const runId = rows[0].id;
    await getPool().query(
      `INSERT INTO stitch_node_runs (run_id, instance_id, node_id, status, leased_by, updated_at) VALUES
         ($1, 'a', 'a', 'pending', $2, now() - interval '1 minute')`,
      [runId, runners[0].id],
    );
    // Another runner's lease, whose runner is alive: not taken.
    expect(await requeueLeases(getPool(), { runnerId: 'runner-test', active: () => true, held: new Set() })).toBe(0);
    // The runner's own lease, held in memory: not taken; no longer held: taken.
    const own = { runnerId: runners[0].id, active: () => true, held: new Set([`${runId}/a`]) };
    expect(await requeueLeases(getPool(), own)).toBe(0);
    own.held.clear();
    expect(await requeueLeases(getPool(), own)).toBe(1);
    await getPool().query(`UPDATE stitch_runs SET status = 'cancelled' WHERE id = $1`, [runId]);
  });
});

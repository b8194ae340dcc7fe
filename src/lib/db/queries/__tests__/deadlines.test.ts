/**
 * The `stitch_deadline` job is built in one place (`stitch_add_deadline_job`, 0017): marking an
 * async node running, a poll that extends its deadline and a vendor's "poll now" all leave the
 * same keyed job — one per instance, its payload naming the attempt — due when the deadline is.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NodeConfig } from '@/types/stitch';
import { getPool } from '@/lib/db/pool';
import { extendDeadline, moveDeadlineToNow } from '@/lib/db/queries/deadlines';
import { readNodeAttempt } from '@/lib/db/queries/node-attempt';
import { createFlow } from '@/lib/engine/flows';
import { startRun } from '@/lib/engine/start-run';
import type { IWorker } from '@/lib/workers/base';
import { eventually, graph, registerTestWorker, waitForRun } from '../../../../../test/helpers';
import { startTestStitch, type TestStitch } from '../../../../../test/db';

let stitch: TestStitch;

/** An async worker whose vendor never calls back (and that cannot poll). */
class SilentVendor implements IWorker {
  async execute(_runId: string, _nodeId: string, _config: NodeConfig, _input: unknown) {}
}

beforeAll(async () => {
  registerTestWorker('silent-vendor', SilentVendor, { type: 'async', retry: { attempts: 1 }, timeoutSeconds: 600 });
  stitch = await startTestStitch();
});
afterAll(() => stitch?.destroy());

interface DeadlineJob {
  payload: { r: string; v: string; i: string; a: number };
  max_attempts: number;
  due_in_s: number;
}

async function deadlineJobsOf(runId: string): Promise<DeadlineJob[]> {
  const { rows } = await getPool().query<DeadlineJob>(
    // Read-only look at the queue's table: the payload is not in its public view.
    `SELECT j.payload, j.max_attempts, extract(epoch FROM j.run_at - now())::float8 AS due_in_s
     FROM graphile_worker._private_jobs j JOIN graphile_worker._private_tasks t ON t.id = j.task_id
     WHERE t.identifier = 'stitch_deadline' AND j.payload ->> 'r' = $1 AND j.key = stitch_job_key('deadline', $1::uuid, 'v')`,
    [runId],
  );
  return rows;
}

async function startSilentRun() {
  const flow = await createFlow(`silent ${Math.random()}`, graph([{ id: 'v', workerType: 'silent-vendor' }], []));
  const { runId, versionId } = await startRun(flow.id, { input: {} });
  const state = await eventually(async () => {
    const s = await readNodeAttempt(getPool(), runId, 'v');
    return s?.status === 'running' && s.deadlineAt ? s : undefined;
  });
  return { runId, versionId, state };
}

describe('the callback-deadline job', () => {
  it('marking the node running adds one keyed job for the attempt, due at its deadline', async () => {
    const { runId, versionId, state } = await startSilentRun();
    const jobs = await deadlineJobsOf(runId);
    expect(jobs.map((j) => ({ payload: j.payload, max: j.max_attempts }))).toEqual([{ payload: { r: runId, v: versionId, i: 'v', a: 1 }, max: 5 }]);
    expect(Math.abs(jobs[0].due_in_s - (state.deadlineAt!.getTime() - Date.now()) / 1000)).toBeLessThan(5);
  });

  it('extending the deadline replaces the job (same key, same payload) with one due at the new deadline', async () => {
    const { runId, versionId } = await startSilentRun();
    await extendDeadline(getPool(), { runId, versionId, instanceId: 'v', attempt: 1 }, 1800);
    const jobs = await deadlineJobsOf(runId);
    expect(jobs).toHaveLength(1);
    expect(jobs[0].payload).toEqual({ r: runId, v: versionId, i: 'v', a: 1 });
    expect(jobs[0].due_in_s).toBeGreaterThan(1700);
    const state = await readNodeAttempt(getPool(), runId, 'v');
    expect((state!.deadlineAt!.getTime() - Date.now()) / 1000).toBeGreaterThan(1700);
  });

  it('an extension for another attempt changes nothing', async () => {
    const { runId, versionId } = await startSilentRun();
    const before = await deadlineJobsOf(runId);
    await extendDeadline(getPool(), { runId, versionId, instanceId: 'v', attempt: 2 }, 1800);
    const after = await deadlineJobsOf(runId);
    expect(after).toHaveLength(1);
    expect(Math.abs(after[0].due_in_s - before[0].due_in_s)).toBeLessThan(5);
  });

  it('"poll now" makes the deadline due at once: the deadline job runs and fails the attempt that cannot poll', async () => {
    const { runId } = await startSilentRun();
    expect(await moveDeadlineToNow(getPool(), runId, 'v', 2)).toBe(false); // not the running attempt
    expect(await moveDeadlineToNow(getPool(), runId, 'v', 1)).toBe(true);
    const run = await waitForRun(runId, { timeoutMs: 20_000 });
    expect(run.status).toBe('failed');
    expect(run.nodes.v.error).toMatch(/No callback arrived within the 600s callback deadline/);
  });
});

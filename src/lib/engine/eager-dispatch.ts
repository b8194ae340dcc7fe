/**
 * Eager dispatch: the hop without a queue round trip. When a node settles inside a runner's job and
 * makes one cheap successor ready (claims.ts), the settle's own commit leases that successor to the
 * runner instead of adding a `stitch_execute` job, and the runner executes it next, in the same
 * task. A chain of sync nodes then costs one queue job in all, not one per node.
 *
 * Nothing is lost when the runner is not there to finish: a lease names the runner, and
 * - a runner that dies loses its heartbeat row, and any other runner's sweep turns its leases into
 *   ordinary jobs (stitch_requeue_leases);
 * - an execution that cannot finish (the database went away) hands its lease back as a job, or, if
 *   even that fails, leaves it to this runner's own sweep, which requeues leases it no longer holds;
 * - a stopping runner claims nothing more.
 * Every claimed execution is an ordinary attempt 1 of its node: the attempt rule, the run lock and
 * the job guard apply to it as to a job.
 */
import type pg from 'pg';
import { getLogger } from '@/lib/log';
import { handBackLease, requeueOrphanLeases } from '@/lib/db/queries/leases';
import type { ClaimBox } from './claims';
import { executeNodeJob } from './execute-node';
import { attemptOf, type ExecutePayload } from './execute-payload';
import type { Runtime } from '@/lib/runtime';
import { guardJob } from './job-guard';

export interface Dispatcher {
  runnerId: string;
  /** False once the runner is stopping: successors then get queue jobs. */
  active(): boolean;
  /** `runId/instanceId` of the claimed executions this process is running now. */
  held: Set<string>;
}

/** A lease younger than this is never taken back from a live runner (its claim may be in flight). */
export const LEASE_MIN_AGE_SECONDS = 30;


/** Execute a queue job's attempt, then the successors its settles claim, one after the other. */
export async function executeWithSuccessors(payload: ExecutePayload, jobId: string, dispatch: Dispatcher, runtime: Runtime): Promise<void> {
  const { pool } = runtime;
  const first: ClaimBox | undefined = dispatch.active() ? { runnerId: dispatch.runnerId } : undefined;
  try {
    await guardJob('stitch_execute', attemptOf(payload), () => executeNodeJob(runtime, payload, jobId, first));
  } catch (error) {
    // The job runs again; a successor claimed before the fault goes back to the queue.
    if (first?.claimed) await handBack(pool, { ...payload, i: first.claimed, a: 1 }, dispatch);
    throw error;
  }
  let next = first?.claimed;
  let upstream = first?.upstream;
  while (next) {
    const step: ExecutePayload = { r: payload.r, v: payload.v, i: next, a: 1 };
    const key = `${step.r}/${step.i}`;
    const claim: ClaimBox | undefined = dispatch.active() ? { runnerId: dispatch.runnerId } : undefined;
    dispatch.held.add(key);
    try {
      await guardJob('stitch_execute', attemptOf(step), () => executeNodeJob(runtime, step, undefined, claim, upstream));
      next = claim?.claimed;
      upstream = claim?.upstream;
    } catch (error) {
      // Only infrastructure faults get past the guard: the database went away mid-step.
      getLogger().warn({ runId: step.r, nodeId: step.i, error: String(error) }, 'eager execution interrupted; the node goes back to the queue');
      await handBack(pool, step, dispatch);
      if (claim?.claimed) await handBack(pool, { ...step, i: claim.claimed }, dispatch);
      next = undefined;
    } finally {
      dispatch.held.delete(key);
    }
  }
}

/** Give a lease back as a queue job; if the database is away, the own-lease sweep does it later. */
async function handBack(pool: pg.Pool, step: ExecutePayload, dispatch: Dispatcher): Promise<void> {
  await handBackLease(pool, step.r, step.i, dispatch.runnerId).catch((error) =>
    getLogger().warn({ runId: step.r, nodeId: step.i, error: String(error) }, 'could not hand a lease back yet; the sweep will'),
  );
}

/** Leases of runners without a heartbeat row, and this runner's own that it no longer holds, become jobs. */
export async function requeueLeases(pool: pg.Pool, dispatch: Dispatcher): Promise<number> {
  const n = await requeueOrphanLeases(pool, dispatch.runnerId, [...dispatch.held], LEASE_MIN_AGE_SECONDS);
  if (n > 0) getLogger().warn({ nodes: n }, 'requeued node leases whose runner cannot run them');
  return n;
}

/**
 * Durable delayed callbacks: a `stitch_callback` queue job that delivers a node's result at a
 * given time. Async mocks and timers use it instead of `setTimeout`, so a restart loses nothing.
 */
import type { WorkerCallback } from '@/types/stitch';
import { getPool } from '@/lib/db/pool';
import { currentAttemptFor, currentHarness } from './execution-context';

export interface ScheduledCallbackPayload {
  r: string;
  i: string;
  a: number;
  cb: WorkerCallback;
}

/** Deliver `callback` for this node's current attempt after `delaySeconds`. Call it inside `execute`. */
export async function scheduleCallback(
  runId: string,
  nodeId: string,
  callback: WorkerCallback,
  delaySeconds: number,
  options: { attempt?: number } = {},
): Promise<void> {
  // Test seam: under the worker test harness (src/lib/workers/testing.ts) the callback is recorded.
  const harness = currentHarness();
  if (harness) return harness.scheduleCallback(runId, nodeId, callback, delaySeconds);
  const attempt = options.attempt ?? currentAttemptFor(runId, nodeId)?.attempt;
  if (attempt === undefined) {
    throw new Error(`scheduleCallback(${runId}, ${nodeId}) needs the attempt: call it inside execute(), or pass { attempt }.`);
  }
  const payload: ScheduledCallbackPayload = { r: runId, i: nodeId, a: attempt, cb: callback };
  await getPool().query(
    // Keyed per node: a redelivered attempt replaces its own callback, and settling the node (or
    // ending the run) removes it in the same commit (0006_attempt_rule.sql).
    `SELECT graphile_worker.add_job('stitch_callback', $1::json, run_at => now() + make_interval(secs => $2), max_attempts => 5,
                                    job_key => stitch_job_key('callback', $3, $4))`,
    [JSON.stringify(payload), Math.max(0, delaySeconds), runId, nodeId],
  );
}

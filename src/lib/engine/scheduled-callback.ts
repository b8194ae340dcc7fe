/**
 * Durable delayed callbacks: a `stitch_callback` queue job that delivers a node's result at a
 * given time (the engine host's `scheduleCallback`). Async mocks and timers use it instead of
 * `setTimeout`, so a restart loses nothing.
 */
import type pg from 'pg';
import type { WorkerCallback } from '@/types/stitch';

export interface ScheduledCallbackPayload {
  r: string;
  i: string;
  a: number;
  cb: WorkerCallback;
}

export async function addScheduledCallback(
  pool: pg.Pool,
  runId: string,
  nodeId: string,
  attempt: number,
  callback: WorkerCallback,
  delaySeconds: number,
): Promise<void> {
  const payload: ScheduledCallbackPayload = { r: runId, i: nodeId, a: attempt, cb: callback };
  await pool.query(
    // Keyed per node: a redelivered attempt replaces its own callback, and settling the node (or
    // ending the run) removes it in the same commit (0006_attempt_rule.sql).
    `SELECT graphile_worker.add_job('stitch_callback', $1::json, run_at => now() + make_interval(secs => $2), max_attempts => 5,
                                    job_key => stitch_job_key('callback', $3, $4))`,
    [JSON.stringify(payload), Math.max(0, delaySeconds), runId, nodeId],
  );
}

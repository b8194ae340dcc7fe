/**
 * Durable delayed callbacks: a `stitch_callback` queue job that delivers a node's result at a
 * given time (the engine host's `scheduleCallback`). Async mocks and timers use it instead of
 * `setTimeout`, so a restart loses nothing.
 */
import type pg from 'pg';
import type { WorkerCallback } from '@/types/stitch';
import { addCallbackJob } from '@/lib/db/queries/scheduled-callbacks';

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
  await addCallbackJob(pool, runId, nodeId, JSON.stringify(payload), delaySeconds);
}

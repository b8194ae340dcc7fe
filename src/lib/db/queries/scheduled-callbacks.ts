/**
 * Durable delayed callbacks (src/lib/engine/scheduled-callback.ts): a `stitch_callback` queue job,
 * keyed per node — a redelivered attempt replaces its own callback, and settling the node (or
 * ending the run) removes it in the same commit (0006_attempt_rule.sql).
 */
import type { Queryable } from './queryable';

export async function addCallbackJob(db: Queryable, runId: string, instanceId: string, payloadJson: string, delaySeconds: number): Promise<void> {
  await db.query(
    `SELECT graphile_worker.add_job('stitch_callback', $1::json, run_at => now() + make_interval(secs => $2), max_attempts => 5,
                                    job_key => stitch_job_key('callback', $3, $4))`,
    [payloadJson, Math.max(0, delaySeconds), runId, instanceId],
  );
}

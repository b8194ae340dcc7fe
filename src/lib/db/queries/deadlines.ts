/**
 * Callback deadlines of async attempts. The `stitch_deadline` job itself is added by one SQL
 * function, `stitch_add_deadline_job` (0017_deadline_job.sql), here and in `stitch_mark_running`.
 */
import type { AttemptRef, Queryable } from './queryable';

/** A poll said "still running": the deadline moves `seconds` ahead, with a new deadline job then. */
export async function extendDeadline(db: Queryable, ref: AttemptRef, seconds: number): Promise<void> {
  await db.query(
    `WITH u AS (UPDATE stitch_node_runs SET deadline_at = now() + make_interval(secs => $5), updated_at = now()
                WHERE run_id = $1 AND instance_id = $2 AND attempt = $4 AND status = 'running' RETURNING deadline_at)
     SELECT stitch_add_deadline_job($1, $3, $2, $4, u.deadline_at) FROM u`,
    [ref.runId, ref.instanceId, ref.versionId, ref.attempt, seconds],
  );
}

/**
 * The deadline of a running attempt that has one moves to now, and its keyed deadline job is
 * replaced by one due now. False when the attempt is not running with a deadline.
 */
export async function moveDeadlineToNow(db: Queryable, runId: string, instanceId: string, attempt: number): Promise<boolean> {
  const { rowCount } = await db.query(
    `WITH n AS (
       UPDATE stitch_node_runs SET deadline_at = now(), updated_at = now()
       WHERE run_id = $1 AND instance_id = $2 AND attempt = $3 AND status = 'running' AND deadline_at IS NOT NULL
       RETURNING run_id, instance_id, attempt, deadline_at
     )
     SELECT stitch_add_deadline_job(n.run_id, r.version_id, n.instance_id, n.attempt, n.deadline_at)
     FROM n JOIN stitch_runs r ON r.id = n.run_id`,
    [runId, instanceId, attempt],
  );
  return (rowCount ?? 0) > 0;
}

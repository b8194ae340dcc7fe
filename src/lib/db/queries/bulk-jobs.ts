/**
 * Bulk actions on runs (src/lib/runs/bulk.ts, 0029_bulk_actions.sql): a job row with its counters,
 * one item row per run it acts on (the snapshot taken when it was posted), and its keyed
 * `stitch_bulk` queue job, added in the commit that creates or advances it.
 */
import type { BulkAction, BulkJob } from '@/types/stitch';
import type { RunFilter } from '@/lib/runs/filter';
import type { Queryable } from './queryable';
import { runFilterWhere } from './list-runs';
import { createdKey, keysetAfter, pageOf } from './keyset-cursor';

export type { BulkAction } from '@/types/stitch';
export type BulkState = BulkJobRow['state'];
export type BulkItemState = 'pending' | 'done' | 'skipped' | 'failed';
export type BulkJobRow = BulkJob;

type BulkJobDbRow = Omit<BulkJobRow, 'createdAt' | 'finishedAt'> & { created_at: Date; finished_at: Date | null };

const toBulkJob = (r: BulkJobDbRow): BulkJobRow => ({
  id: r.id,
  action: r.action,
  filter: r.filter,
  state: r.state,
  total: r.total,
  done: r.done,
  succeeded: r.succeeded,
  skipped: r.skipped,
  failed: r.failed,
  createdAt: r.created_at.toISOString(),
  finishedAt: r.finished_at ? r.finished_at.toISOString() : null,
});

/** Serialise creations of the same request (two identical posts at once make one job). */
export async function lockBulkRequest(db: Queryable, requestHash: string): Promise<void> {
  await db.query(`SELECT pg_advisory_xact_lock(57175, hashtext($1))`, [requestHash]);
}

/** The job an identical request created within `hours`, if any. */
export async function findBulkJobByRequest(db: Queryable, requestHash: string, hours: number): Promise<BulkJobRow | undefined> {
  const { rows } = await db.query<BulkJobDbRow>(
    `SELECT * FROM stitch_bulk_jobs WHERE request_hash = $1 AND created_at > now() - make_interval(hours => $2)
     ORDER BY created_at DESC LIMIT 1`,
    [requestHash, hours],
  );
  return rows[0] && toBulkJob(rows[0]);
}

/**
 * Make room for one more job within `keep`: the oldest finished jobs beyond it go (their items with
 * them). Returns how many jobs are running, which the caller refuses to exceed.
 */
export async function makeRoomForBulkJob(db: Queryable, keep: number): Promise<{ running: number }> {
  await db.query(
    `DELETE FROM stitch_bulk_jobs WHERE state <> 'running'
       AND id IN (SELECT id FROM stitch_bulk_jobs ORDER BY created_at DESC, id DESC OFFSET greatest($1::int - 1, 0))`,
    [keep],
  );
  const { rows } = await db.query<{ running: number }>(`SELECT count(*)::int AS running FROM stitch_bulk_jobs WHERE state = 'running'`);
  return rows[0];
}

/**
 * Create a job over the runs matching `filter` (at most `max`), its items, and its first queue job,
 * in the caller's transaction. A job with nothing to do is created completed.
 */
export async function insertBulkJob(
  db: Queryable,
  job: { action: BulkAction; filterJson: string; requestHash: string; filter: RunFilter; max: number },
): Promise<BulkJobRow> {
  const params: unknown[] = [job.action, job.filterJson, job.requestHash];
  const where = runFilterWhere(job.filter, params);
  const { rows } = await db.query<{ id: string; n: number }>(
    `WITH job AS (
       INSERT INTO stitch_bulk_jobs (action, filter, request_hash, total) VALUES ($1, $2::jsonb, $3, 0) RETURNING id
     ),
     items AS (
       INSERT INTO stitch_bulk_items (job_id, run_id)
       SELECT (SELECT id FROM job), r.id FROM stitch_runs r WHERE ${where}
       ORDER BY r.created_at DESC, r.id DESC LIMIT $${params.push(job.max)}
       RETURNING 1
     )
     SELECT (SELECT id FROM job) AS id, (SELECT count(*)::int FROM items) AS n`,
    params,
  );
  const { id, n } = rows[0];
  const started = await db.query<BulkJobDbRow>(
    `UPDATE stitch_bulk_jobs
     SET total = $2, state = CASE WHEN $2 = 0 THEN 'completed' ELSE 'running' END, finished_at = CASE WHEN $2 = 0 THEN now() END
     WHERE id = $1
       AND ($2 = 0 OR (graphile_worker.add_job('stitch_bulk', json_build_object('b', id), job_key => 'stitch_bulk:' || id, max_attempts => 25)).id IS NOT NULL)
     RETURNING *`,
    [id, n],
  );
  return toBulkJob(started.rows[0]);
}

export async function getBulkJob(db: Queryable, id: string): Promise<BulkJobRow | undefined> {
  const { rows } = await db.query<BulkJobDbRow>('SELECT * FROM stitch_bulk_jobs WHERE id = $1', [id]);
  return rows[0] && toBulkJob(rows[0]);
}

/** Bulk jobs newest first, keyset-paginated (keyset-cursor.ts). */
export async function listBulkJobs(db: Queryable, page: { limit: number; cursor?: string }): Promise<{ jobs: BulkJobRow[]; nextCursor: string | null }> {
  const values: unknown[] = [];
  const keyset = keysetAfter(page.cursor, values, 'j');
  const { rows } = await db.query<BulkJobDbRow & { created_key: string }>(
    `SELECT j.*, ${createdKey('j')} FROM stitch_bulk_jobs j WHERE true${keyset}
     ORDER BY j.created_at DESC, j.id DESC LIMIT $${values.push(page.limit + 1)}`,
    values,
  );
  const { rows: jobs, nextCursor } = pageOf(rows, page.limit);
  return { jobs: jobs.map(toBulkJob), nextCursor };
}

export interface BulkItem {
  runId: string;
  state: BulkItemState;
  result: unknown;
}

/** A job's items (run order), paginated by run id. */
export async function listBulkItems(db: Queryable, jobId: string, page: { limit: number; after?: string }): Promise<BulkItem[]> {
  const { rows } = await db.query<{ run_id: string; state: BulkItemState; result: unknown }>(
    `SELECT run_id, state, result FROM stitch_bulk_items WHERE job_id = $1 AND ($2::uuid IS NULL OR run_id > $2) ORDER BY run_id LIMIT $3`,
    [jobId, page.after ?? null, page.limit],
  );
  return rows.map((r) => ({ runId: r.run_id, state: r.state, result: r.result }));
}

/** The next `limit` items still to do, with what the action needs of each run (null: the run is gone). */
export async function nextBulkItems(db: Queryable, jobId: string, limit: number): Promise<Array<{ runId: string; status: string | null }>> {
  const { rows } = await db.query<{ run_id: string; status: string | null }>(
    `SELECT i.run_id, r.status FROM stitch_bulk_items i LEFT JOIN stitch_runs r ON r.id = i.run_id
     WHERE i.job_id = $1 AND i.state = 'pending' ORDER BY i.run_id LIMIT $2`,
    [jobId, limit],
  );
  return rows.map((r) => ({ runId: r.run_id, status: r.status }));
}

/**
 * Record a batch's outcomes, add them to the job's counters and, in the same commit, either queue
 * the next batch or complete the job; NOTIFY `stitch_bulk` for progress streams. Items already
 * recorded (the batch ran twice) are not counted again.
 */
export async function recordBulkBatch(
  db: Queryable,
  jobId: string,
  outcomes: Array<{ runId: string; state: Exclude<BulkItemState, 'pending'>; result: unknown }>,
): Promise<BulkJobRow | undefined> {
  // One statement sees one snapshot: "remaining" counts the pending items outside this batch.
  const { rows } = await db.query<BulkJobDbRow>(
    `WITH recorded AS (
       UPDATE stitch_bulk_items i SET state = o.state, result = o.result
       FROM jsonb_to_recordset($2::jsonb) AS o("runId" uuid, state text, result jsonb)
       WHERE i.job_id = $1 AND i.run_id = o."runId" AND i.state = 'pending'
       RETURNING i.state
     ),
     counted AS (
       SELECT count(*)::int AS n, count(*) FILTER (WHERE state = 'done')::int AS ok,
              count(*) FILTER (WHERE state = 'skipped')::int AS skipped, count(*) FILTER (WHERE state = 'failed')::int AS failed
       FROM recorded
     ),
     remaining AS (
       SELECT count(*)::int AS n FROM stitch_bulk_items i
       WHERE i.job_id = $1 AND i.state = 'pending'
         AND NOT (i.run_id = ANY (SELECT o."runId" FROM jsonb_to_recordset($2::jsonb) AS o("runId" uuid)))
     )
     UPDATE stitch_bulk_jobs j
     SET done = j.done + c.n, succeeded = j.succeeded + c.ok, skipped = j.skipped + c.skipped, failed = j.failed + c.failed,
         state = CASE WHEN left_.n = 0 THEN 'completed' ELSE j.state END,
         finished_at = CASE WHEN left_.n = 0 THEN now() END
     FROM counted c, remaining left_
     WHERE j.id = $1 AND j.state = 'running'
     RETURNING j.*,
       left_.n > 0 AND (graphile_worker.add_job('stitch_bulk', json_build_object('b', j.id), job_key => 'stitch_bulk:' || j.id, max_attempts => 25)).id IS NOT NULL AS queued,
       pg_notify('stitch_bulk', j.id::text) AS notified`,
    [jobId, JSON.stringify(outcomes)],
  );
  return rows[0] && toBulkJob(rows[0]);
}

/** Failed node instances of a run that a retry can take (not errors a collector already collected). */
export async function retryableInstances(db: Queryable, runId: string): Promise<string[]> {
  const { rows } = await db.query<{ instance_id: string }>(
    `SELECT instance_id FROM stitch_node_runs
     WHERE run_id = $1 AND status = 'failed' AND coalesce(metadata ->> 'itemError', '') <> 'collected'
     ORDER BY instance_id`,
    [runId],
  );
  return rows.map((r) => r.instance_id);
}

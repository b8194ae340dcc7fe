/**
 * The settle statement (src/lib/engine/settle-batch.ts): settles sent as one JSON array of items
 * (`stitch_settle_batch`), then, in the same statement, the queue jobs that executed them are
 * completed and the commit's durability is chosen. Prepared once per connection: every node runs it.
 */
import type { Queryable } from './queryable';

const SETTLE_BATCH = `SELECT stitch_settle_batch($1::jsonb) AS r,
  CASE WHEN $2::bigint[] IS NOT NULL THEN (SELECT count(*) FROM graphile_worker.complete_jobs($2::bigint[])) END AS jobs_completed,
  set_config('synchronous_commit', CASE WHEN $3 THEN 'off' ELSE current_setting('synchronous_commit') END, true) AS sync`;

/** One result per item, in the order given. */
export async function settleItems<Result>(db: Queryable, itemsJson: string, jobIds: string[], asyncCommit: boolean): Promise<Result[]> {
  const { rows } = await db.query<{ r: Result[] }>({
    name: 'stitch_settle',
    text: SETTLE_BATCH,
    values: [itemsJson, jobIds.length ? jobIds : null, asyncCommit],
  });
  return rows[0].r;
}

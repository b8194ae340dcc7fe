/**
 * The settle statement (src/lib/engine/settle-batch.ts): settles sent as one JSON array of items;
 * `stitch_settle_batch` settles them, completes the queue jobs that executed them and chooses the
 * commit's durability, all in one statement. Prepared once per connection: every node runs it.
 * One function call, so that the prepared statement has one plan (0020_settle_plans.sql).
 */
import type { Queryable } from './queryable';

const SETTLE_BATCH = 'SELECT stitch_settle_batch($1::jsonb, $2::bigint[], $3::boolean) AS r';

/** One result per item, in the order given. */
export async function settleItems<Result>(db: Queryable, itemsJson: string, jobIds: string[], asyncCommit: boolean): Promise<Result[]> {
  const { rows } = await db.query<{ r: Result[] }>({
    name: 'stitch_settle',
    text: SETTLE_BATCH,
    values: [itemsJson, jobIds.length ? jobIds : null, asyncCommit],
  });
  return rows[0].r;
}

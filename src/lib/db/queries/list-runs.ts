/**
 * One page of runs, newest first, keyset-paginated on (created_at, id): a page never skips or
 * repeats a run however many runs start meanwhile. The cursor is opaque to clients.
 */
import type { RunRow, RunStatus } from '@/types/stitch';
import type { Queryable } from './queryable';
import { toRunRow } from '@/lib/db/rows';
import { decodeCursor, encodeCursor } from './keyset-cursor';

export interface RunListFilter {
  flowId?: string;
  status?: RunStatus;
  limit: number;
  cursor?: string;
}

export async function listRuns(db: Queryable, filter: RunListFilter): Promise<{ runs: RunRow[]; nextCursor: string | null }> {
  const after = filter.cursor ? decodeCursor(filter.cursor) : null;
  const { rows } = await db.query(
    `SELECT *, (extract(epoch FROM created_at) * 1000000)::bigint::text AS created_key FROM stitch_runs
     WHERE ($1::uuid IS NULL OR flow_id = $1)
       AND ($2::text IS NULL OR status = $2)
       AND ($3::bigint IS NULL OR (created_at, id) < ('epoch'::timestamptz + $3::bigint * interval '1 microsecond', $4::uuid))
     ORDER BY created_at DESC, id DESC
     LIMIT $5`,
    [filter.flowId ?? null, filter.status ?? null, after?.[0] ?? null, after?.[1] ?? null, filter.limit + 1],
  );
  const page = rows.slice(0, filter.limit);
  const last = page[page.length - 1];
  return { runs: page.map(toRunRow), nextCursor: rows.length > filter.limit ? encodeCursor(last.created_key, last.id) : null };
}

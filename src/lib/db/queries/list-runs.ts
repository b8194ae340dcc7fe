/**
 * One page of runs, newest first, keyset-paginated on (created_at, id) (./page.ts).
 */
import type { RunRow, RunStatus } from '@/types/stitch';
import type { Queryable } from './queryable';
import { toRunRow } from '@/lib/db/rows';
import { MICROS, UUID_KEY, decodeCursor, fromMicros, micros, pageOf, type PageRequest } from './page';

export interface RunListFilter extends PageRequest {
  flowId?: string;
  status?: RunStatus;
}

export async function listRuns(db: Queryable, filter: RunListFilter): Promise<{ runs: RunRow[]; nextCursor: string | null }> {
  const after = decodeCursor(filter.cursor, [MICROS, UUID_KEY]);
  const { rows } = await db.query(
    `SELECT *, ${micros('created_at')} AS created_key FROM stitch_runs
     WHERE ($1::uuid IS NULL OR flow_id = $1)
       AND ($2::text IS NULL OR status = $2)
       AND ($3::bigint IS NULL OR (created_at, id) < (${fromMicros('$3')}, $4::uuid))
     ORDER BY created_at DESC, id DESC
     LIMIT $5`,
    [filter.flowId ?? null, filter.status ?? null, after?.[0] ?? null, after?.[1] ?? null, filter.limit + 1],
  );
  const page = pageOf(rows, filter.limit, (r) => [r.created_key, r.id]);
  return { runs: page.rows.map(toRunRow), nextCursor: page.nextCursor };
}

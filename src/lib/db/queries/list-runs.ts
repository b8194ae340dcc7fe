/**
 * One page of runs, newest first, keyset-paginated on (created_at, id): a page never skips or
 * repeats a run however many runs start meanwhile. The cursor is opaque to clients.
 */
import type { RunRow, RunStatus } from '@/types/stitch';
import type { Queryable } from './queryable';
import { isUuid, toRunRow } from '@/lib/db/rows';
import { ValidationError } from '@/lib/errors';

export interface RunListFilter {
  flowId?: string;
  status?: RunStatus;
  limit: number;
  cursor?: string;
}

// The cursor keeps created_at in exact epoch microseconds: an ISO string's milliseconds would
// skip or repeat runs created within the same millisecond.
function encodeCursor(createdKey: string, id: string): string {
  return Buffer.from(JSON.stringify([createdKey, id])).toString('base64url');
}

function decodeCursor(cursor: string): [string, string] {
  try {
    const value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown;
    if (Array.isArray(value) && value.length === 2 && /^\d{1,17}$/.test(String(value[0])) && isUuid(String(value[1]))) {
      return [String(value[0]), String(value[1])];
    }
  } catch {
    // fall through: a cursor that does not decode is the caller's mistake
  }
  throw new ValidationError('The cursor is not valid: pass the nextCursor of a previous page.', [
    { code: 'invalid_cursor', field: 'cursor', message: 'not a cursor returned by this API' },
  ]);
}

export async function listRuns(db: Queryable, filter: RunListFilter): Promise<{ runs: RunRow[]; nextCursor: string | null }> {
  const after = filter.cursor ? decodeCursor(filter.cursor) : null;
  const { rows } = await db.query(
    `SELECT *, (extract(epoch FROM created_at) * 1000000)::bigint::text AS created_key FROM stitch_runs
     WHERE ($1::uuid IS NULL OR flow_id = $1)
       AND ($2::text IS NULL OR CASE WHEN $2 = 'paused' THEN status = 'running' AND paused_at IS NOT NULL ELSE status = $2 END)
       AND ($3::bigint IS NULL OR (created_at, id) < ('epoch'::timestamptz + $3::bigint * interval '1 microsecond', $4::uuid))
     ORDER BY created_at DESC, id DESC
     LIMIT $5`,
    [filter.flowId ?? null, filter.status ?? null, after?.[0] ?? null, after?.[1] ?? null, filter.limit + 1],
  );
  const page = rows.slice(0, filter.limit);
  const last = page[page.length - 1];
  return { runs: page.map(toRunRow), nextCursor: rows.length > filter.limit ? encodeCursor(last.created_key, last.id) : null };
}

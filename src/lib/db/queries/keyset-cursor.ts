/**
 * The opaque cursor of every list paginated newest first on (created_at, id), as `GET /api/runs`:
 * a page never skips or repeats a row however many rows are added meanwhile. SQL selects
 * `(extract(epoch FROM created_at) * 1000000)::bigint::text AS created_key` for it (`createdKey`);
 * `keysetAfter` and `pageOf` build a page's condition and cursor from that.
 */
import { isUuid } from '@/lib/db/rows';
import { ValidationError } from '@/lib/errors';

// The cursor keeps created_at in exact epoch microseconds: an ISO string's milliseconds would
// skip or repeat runs created within the same millisecond.
export function encodeCursor(createdKey: string, id: string): string {
  return Buffer.from(JSON.stringify([createdKey, id])).toString('base64url');
}

export function decodeCursor(cursor: string): [string, string] {
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


/** Select this beside the row (`<alias>.created_at` as epoch microseconds, text) to build its cursor. */
export const createdKey = (alias: string) => `(extract(epoch FROM ${alias}.created_at) * 1000000)::bigint::text AS created_key`;

/** ` AND (alias.created_at, alias.id) < cursor` (or nothing without a cursor), its values appended to `values`. */
export function keysetAfter(cursor: string | undefined, values: unknown[], alias: string): string {
  if (!cursor) return '';
  const [micros, id] = decodeCursor(cursor);
  return ` AND (${alias}.created_at, ${alias}.id) < ('epoch'::timestamptz + $${values.push(micros)}::bigint * interval '1 microsecond', $${values.push(id)}::uuid)`;
}

/** A page from `limit + 1` rows: the first `limit`, and the cursor after them if there were more. */
export function pageOf<R extends { created_key: string; id: string }>(rows: R[], limit: number): { rows: R[]; nextCursor: string | null } {
  const page = rows.slice(0, limit);
  const last = page[page.length - 1];
  return { rows: page, nextCursor: rows.length > limit ? encodeCursor(last.created_key, last.id) : null };
}

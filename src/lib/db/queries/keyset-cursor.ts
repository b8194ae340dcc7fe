/**
 * Keyset pagination, the one way every list pages (`GET /api/runs` first): at most `limit` items
 * in a fixed order, and an opaque cursor — the last item's sort key — for the next page, so a page
 * never skips or repeats an item however many are added meanwhile. A query asks for `limit + 1`
 * rows; the extra one only says there is a next page.
 *
 * Timestamps in a key are exact epoch microseconds (`MICROS`), not ISO text: milliseconds would
 * skip or repeat items created within the same millisecond. Lists newest first on
 * (created_at, id) — runs, bulk jobs — select `createdKey(alias)` and filter with `keysetAfter`;
 * other orders (oldest first, by name, by version) decode their key with `decodeCursor`.
 */
import { ValidationError } from '@/lib/errors';

export interface PageRequest {
  limit: number;
  cursor?: string;
}

/** SQL for a timestamptz column as the exact microseconds a cursor keeps (text). */
export const micros = (column: string) => `(extract(epoch FROM ${column}) * 1000000)::bigint::text`;

/** SQL for a cursor's microseconds parameter back as a timestamptz. */
export const fromMicros = (param: string) => `('epoch'::timestamptz + ${param}::bigint * interval '1 microsecond')`;

export const MICROS = /^\d{1,17}$/;
export const UUID_KEY = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export const NUMBER_KEY = /^\d{1,12}$/;

export function encodeCursor(key: string[]): string {
  return Buffer.from(JSON.stringify(key)).toString('base64url');
}

/** The key a cursor holds, checked against one pattern per part; undefined without a cursor. */
export function decodeCursor(cursor: string | undefined, shape: RegExp[]): string[] | undefined {
  if (cursor === undefined) return undefined;
  try {
    const value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown;
    if (Array.isArray(value) && value.length === shape.length && value.every((v, i) => typeof v === 'string' && shape[i].test(v))) return value as string[];
  } catch {
    // fall through: a cursor that does not decode is the caller's mistake
  }
  throw new ValidationError('The cursor is not valid: pass the nextCursor of a previous page.', [
    { code: 'invalid_cursor', field: 'cursor', message: 'not a cursor returned by this API' },
  ]);
}

/** Select this beside the row (`<alias>.created_at` as epoch microseconds, text) to build its cursor. */
export const createdKey = (alias: string) => `${micros(`${alias}.created_at`)} AS created_key`;

/** ` AND (alias.created_at, alias.id) < cursor` (or nothing without a cursor), its values appended to `values`. */
export function keysetAfter(cursor: string | undefined, values: unknown[], alias: string): string {
  const after = decodeCursor(cursor || undefined, [MICROS, UUID_KEY]);
  if (!after) return '';
  return ` AND (${alias}.created_at, ${alias}.id) < (${fromMicros(`$${values.push(after[0])}`)}, $${values.push(after[1])}::uuid)`;
}

/**
 * A page from `limit + 1` rows: the first `limit`, and the cursor after them if there were more —
 * the last row's `keyOf` (by default its `created_key` and `id`).
 */
export function pageOf<R extends { created_key: string; id: string }>(rows: R[], limit: number): { rows: R[]; nextCursor: string | null };
export function pageOf<R>(rows: R[], limit: number, keyOf: (row: R) => string[]): { rows: R[]; nextCursor: string | null };
export function pageOf<R>(rows: R[], limit: number, keyOf?: (row: R) => string[]): { rows: R[]; nextCursor: string | null } {
  const page = rows.slice(0, limit);
  const key = keyOf ?? ((row: R) => [(row as { created_key: string }).created_key, (row as { id: string }).id]);
  return { rows: page, nextCursor: rows.length > limit ? encodeCursor(key(page[page.length - 1])) : null };
}

/** Every item of a list, page by page (for the CLI's listings; a client pages the same way). */
export async function allPages<T>(fetchPage: (page: PageRequest) => Promise<{ items: T[]; nextCursor: string | null }>): Promise<T[]> {
  const items: T[] = [];
  let cursor: string | undefined;
  do {
    const page = await fetchPage({ limit: 200, cursor });
    items.push(...page.items);
    cursor = page.nextCursor ?? undefined;
  } while (cursor);
  return items;
}

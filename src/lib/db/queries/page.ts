/**
 * Keyset pagination, the one way every list pages (GET /api/runs first): at most `limit` items in
 * a fixed order, and an opaque cursor — the last item's sort key — for the next page, so a page
 * never skips or repeats an item however many are added meanwhile. A query asks for `limit + 1`
 * rows; the extra one only says there is a next page.
 *
 * Timestamps in a key are exact epoch microseconds (`MICROS`), not ISO text: milliseconds would
 * skip or repeat items created within the same millisecond. `afterMicros` turns one back.
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

/** The page of `rows` (fetched with `limit + 1`) and the cursor after its last item. */
export function pageOf<R>(rows: R[], limit: number, keyOf: (row: R) => string[]): { rows: R[]; nextCursor: string | null } {
  const page = rows.slice(0, limit);
  return { rows: page, nextCursor: rows.length > limit ? encodeCursor(keyOf(page[page.length - 1])) : null };
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

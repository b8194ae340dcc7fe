/**
 * The run search: one page of runs matching a filter (src/lib/runs/filter.ts), newest first,
 * keyset-paginated on (created_at, id) — a page never skips or repeats a run however many runs
 * start meanwhile (keyset-cursor.ts). The same WHERE clause counts and selects runs
 * for bulk actions.
 *
 * Which index answers which filter (0028_run_search.sql; plans in docs/operations.md):
 * created_at alone → stitch_runs_created_idx, walked backwards until a page is full; flowId,
 * status, flowId+status, trigger → a btree led by that column and ending in (created_at, id), so
 * the page is still read in order; input and tag → GIN containment (jsonb_path_ops); error →
 * trigram GIN where pg_trgm is installed; costAbove → a partial index on runs that spent
 * anything; finished* → stitch_runs_finished_idx. The planner combines them (BitmapAnd) and
 * sorts the few rows left when a rare condition is the selective one.
 */
import type { RunRow } from '@/types/stitch';
import type { RunFilter } from '@/lib/runs/filter';
import type { Queryable } from './queryable';
import { toRunRow } from '@/lib/db/rows';
import { createdKey, keysetAfter, pageOf } from './keyset-cursor';

export interface RunListPage {
  runs: Array<RunRow & { costUsd: number }>;
  nextCursor: string | null;
}

/** `{a: {b: value}}` for path [a, b]. */
const nest = (path: string[], value: unknown): unknown => path.reduceRight<unknown>((inner, key) => ({ [key]: inner }), value);

/** `%text%` for ILIKE, with the pattern characters of `text` taken literally. */
const containsPattern = (text: string) => `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;

/**
 * The WHERE clause of a filter over `stitch_runs r`, appending its values to `params`. Every
 * value is a parameter; only the shape of the clause depends on which fields are set.
 */
export function runFilterWhere(filter: RunFilter, params: unknown[]): string {
  const p = (value: unknown) => `$${params.push(value)}`;
  const where: string[] = [];
  if (filter.ids) where.push(`r.id = ANY(${p(filter.ids)}::uuid[])`);
  if (filter.flowId) where.push(`r.flow_id = ${p(filter.flowId)}::uuid`);
  if (filter.status) {
    // `paused` is a running run with paused_at set (0035_pause.sql): its row's status stays 'running'.
    const stored = filter.status.filter((st) => st !== 'paused');
    const parts = stored.length ? [stored.length === 1 ? `r.status = ${p(stored[0])}` : `r.status = ANY(${p(stored)}::text[])`] : [];
    if (filter.status.includes('paused')) parts.push(`(r.status = 'running' AND r.paused_at IS NOT NULL)`);
    where.push(parts.length === 1 ? parts[0] : `(${parts.join(' OR ')})`);
  }
  if (filter.trigger) {
    where.push(filter.trigger.length === 1 ? `(r.trigger ->> 'type') = ${p(filter.trigger[0])}` : `(r.trigger ->> 'type') = ANY(${p(filter.trigger)}::text[])`);
  }
  if (filter.createdAfter) where.push(`r.created_at >= ${p(filter.createdAfter)}`);
  if (filter.createdBefore) where.push(`r.created_at < ${p(filter.createdBefore)}`);
  if (filter.finishedAfter) where.push(`r.finished_at >= ${p(filter.finishedAfter)}`);
  if (filter.finishedBefore) where.push(`r.finished_at < ${p(filter.finishedBefore)}`);
  if (filter.costAbove !== undefined) where.push(`r.cost_usd > ${p(filter.costAbove)}`);
  if (filter.costBelow !== undefined) where.push(`r.cost_usd < ${p(filter.costBelow)}`);
  if (filter.error) where.push(`r.error ILIKE ${p(containsPattern(filter.error))}`);
  // Containment, one OR-branch per JSON value the text may stand for: GIN answers each branch.
  for (const c of filter.input ?? []) {
    where.push(`(${c.matches.map((m) => `r.input @> ${p(JSON.stringify(nest(c.path, m)))}::jsonb`).join(' OR ')})`);
  }
  if (filter.tag) where.push(`r.tags @> ${p(JSON.stringify(filter.tag))}::jsonb`);
  return where.length ? where.join(' AND ') : 'true';
}

/** The page statement: the filter, the keyset after the cursor, newest first, one row more than the page. */
export function runPageQuery(filter: RunFilter, page: { limit: number; cursor?: string }): { text: string; values: unknown[] } {
  const values: unknown[] = [];
  const where = runFilterWhere(filter, values);
  const keyset = keysetAfter(page.cursor, values, 'r');
  return {
    text: `SELECT r.*, ${createdKey('r')} FROM stitch_runs r
     WHERE ${where}${keyset}
     ORDER BY r.created_at DESC, r.id DESC
     LIMIT $${values.push(page.limit + 1)}`,
    values,
  };
}

export async function listRuns(db: Queryable, filter: RunFilter, page: { limit: number; cursor?: string }): Promise<RunListPage> {
  const { rows } = await db.query(runPageQuery(filter, page));
  const { rows: runs, nextCursor } = pageOf(rows, page.limit);
  return { runs: runs.map((r) => ({ ...toRunRow(r), costUsd: Number(r.cost_usd) })), nextCursor };
}

/** How many runs match, counting at most `atMost` (a count past the bulk cap is not needed exactly). */
export async function countRuns(db: Queryable, filter: RunFilter, atMost: number): Promise<number> {
  const params: unknown[] = [];
  const where = runFilterWhere(filter, params);
  const { rows } = await db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM (SELECT 1 FROM stitch_runs r WHERE ${where} LIMIT $${params.push(atMost)}) matched`,
    params,
  );
  return rows[0].n;
}

/**
 * Datasets (0025_datasets.sql): a name, its versions, and each version's rows. A version's rows are
 * written with it in one statement and never change.
 */
import type { Queryable } from './queryable';
import { MICROS, UUID_KEY, decodeCursor, fromMicros, micros, pageOf } from './keyset-cursor';

export interface DatasetRowValue {
  input: Record<string, unknown>;
  expected?: unknown;
  notes?: string;
}

export interface DatasetSummary {
  id: string;
  name: string;
  version: number;
  rowCount: number;
  source: Record<string, unknown>;
  createdAt: string;
  updatedAt: string;
}

const iso = (d: Date | string) => new Date(d).toISOString();

const SUMMARY = `SELECT d.id, d.name, d.version, v.row_count, v.source, d.created_at, d.updated_at,
                       ${micros('d.created_at')} AS created_key
                FROM stitch_datasets d JOIN stitch_dataset_versions v ON v.dataset_id = d.id AND v.version = d.version`;

function toSummary(r: Record<string, any>): DatasetSummary {
  return { id: r.id, name: r.name, version: r.version, rowCount: r.row_count, source: r.source, createdAt: iso(r.created_at), updatedAt: iso(r.updated_at) };
}

// The rows of one version, from a JSON array of {input, expected?, notes?}, in array order.
const INSERT_ROWS = (id: string, version: string, rows: string) => `
  INSERT INTO stitch_dataset_rows (dataset_id, version, idx, input, expected, notes)
  SELECT ${id}, ${version}, (r.n - 1)::int, r.v -> 'input', r.v -> 'expected', r.v ->> 'notes'
  FROM jsonb_array_elements(${rows}) WITH ORDINALITY AS r(v, n)`;

export async function countDatasets(db: Queryable): Promise<number> {
  const { rows } = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM stitch_datasets');
  return rows[0].n;
}

/** A new dataset at version 1 with its rows. A name taken already fails with 23505 (unique). */
export async function insertDataset(db: Queryable, name: string, rows: DatasetRowValue[], source: Record<string, unknown>): Promise<string> {
  const { rows: out } = await db.query<{ id: string }>(
    `WITH d AS (INSERT INTO stitch_datasets (name) VALUES ($1) RETURNING id),
          v AS (INSERT INTO stitch_dataset_versions (dataset_id, version, row_count, source)
                SELECT d.id, 1, jsonb_array_length($2::jsonb), $3::jsonb FROM d RETURNING dataset_id),
          r AS (${INSERT_ROWS('(SELECT dataset_id FROM v)', '1', '$2::jsonb')})
     SELECT id FROM d`,
    [name, JSON.stringify(rows), JSON.stringify(source)],
  );
  return out[0].id;
}

/**
 * The dataset's next version with these rows (and its new name, if given). Versions older than the
 * last `keep` go, unless an experiment names them. Undefined: no such dataset.
 */
export async function insertDatasetVersion(
  db: Queryable,
  id: string,
  rows: DatasetRowValue[],
  source: Record<string, unknown>,
  keep: number,
  name?: string,
): Promise<number | undefined> {
  const { rows: out } = await db.query<{ version: number }>(
    `WITH d AS (UPDATE stitch_datasets SET version = version + 1, name = coalesce($4, name), updated_at = now() WHERE id = $1 RETURNING id, version),
          v AS (INSERT INTO stitch_dataset_versions (dataset_id, version, row_count, source)
                SELECT d.id, d.version, jsonb_array_length($2::jsonb), $3::jsonb FROM d RETURNING dataset_id, version),
          r AS (${INSERT_ROWS('(SELECT dataset_id FROM v)', '(SELECT version FROM v)', '$2::jsonb')}),
          old AS (DELETE FROM stitch_dataset_versions o USING d
                  WHERE o.dataset_id = d.id AND o.version <= d.version - $5 AND NOT stitch_dataset_version_in_use(o.dataset_id, o.version))
     SELECT version FROM d`,
    [id, JSON.stringify(rows), JSON.stringify(source), name ?? null, keep],
  );
  return out[0]?.version;
}

export async function listDatasets(db: Queryable, filter: { name?: string; limit: number; cursor?: string }): Promise<{ datasets: DatasetSummary[]; nextCursor: string | null }> {
  const after = decodeCursor(filter.cursor, [MICROS, UUID_KEY]);
  const { rows } = await db.query(
    `${SUMMARY}
     WHERE ($1::text IS NULL OR d.name = $1)
       AND ($2::bigint IS NULL OR (d.created_at, d.id) < (${fromMicros('$2')}, $3::uuid))
     ORDER BY d.created_at DESC, d.id DESC LIMIT $4`,
    [filter.name ?? null, after?.[0] ?? null, after?.[1] ?? null, filter.limit + 1],
  );
  const page = pageOf(rows, filter.limit, (r) => [r.created_key, r.id]);
  return { datasets: page.rows.map(toSummary), nextCursor: page.nextCursor };
}

/** A dataset by id or by name. */
export async function findDataset(db: Queryable, idOrName: string, byId: boolean): Promise<DatasetSummary | undefined> {
  const { rows } = await db.query(`${SUMMARY} WHERE ${byId ? 'd.id = $1::uuid' : 'd.name = $1'}`, [idOrName]);
  return rows[0] && toSummary(rows[0]);
}

/** How many rows a version has (undefined: no such version stored). */
export async function datasetVersionRowCount(db: Queryable, id: string, version: number): Promise<number | undefined> {
  const { rows } = await db.query<{ row_count: number }>('SELECT row_count FROM stitch_dataset_versions WHERE dataset_id = $1 AND version = $2', [id, version]);
  return rows[0]?.row_count;
}

/** Whether the version's rows are still stored. */
export async function datasetVersionExists(db: Queryable, id: string, version: number): Promise<boolean> {
  const { rows } = await db.query('SELECT 1 FROM stitch_dataset_versions WHERE dataset_id = $1 AND version = $2', [id, version]);
  return rows.length > 0;
}

/** One page of a version's rows in order, after row `afterIdx`. */
export async function listDatasetRows(
  db: Queryable,
  id: string,
  version: number,
  page: { afterIdx: number; limit: number },
): Promise<{ idx: number; input: Record<string, unknown>; expected: unknown; notes: string | null }[]> {
  const { rows } = await db.query(
    `SELECT idx, input, expected, notes FROM stitch_dataset_rows WHERE dataset_id = $1 AND version = $2 AND idx > $3 ORDER BY idx LIMIT $4`,
    [id, version, page.afterIdx, page.limit],
  );
  return rows.map((r) => ({ idx: r.idx, input: r.input, expected: r.expected ?? null, notes: r.notes }));
}

/** Removed (true), or not there. A dataset an experiment names is not removed (the caller says so). */
export async function deleteDataset(db: Queryable, id: string): Promise<boolean> {
  const { rowCount } = await db.query('DELETE FROM stitch_datasets WHERE id = $1', [id]);
  return (rowCount ?? 0) > 0;
}

/** The inputs of these runs (those that exist), in the order asked. */
export async function runInputs(db: Queryable, runIds: string[]): Promise<Record<string, unknown>[]> {
  const { rows } = await db.query<{ input: Record<string, unknown> }>(
    `SELECT r.input FROM unnest($1::uuid[]) WITH ORDINALITY AS w(id, n) JOIN stitch_runs r ON r.id = w.id ORDER BY w.n`,
    [runIds],
  );
  return rows.map((r) => r.input);
}

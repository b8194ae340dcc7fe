/**
 * `stitch export-data` / `import-data` (src/lib/backup/): the tables a project is made of, read in
 * one consistent snapshot and written into an empty database. Rows travel as `to_jsonb` of the
 * row and come back through `jsonb_populate_recordset`, so every column keeps its type (bytea as
 * `\x…` hex, timestamps with their zone) without a per-table mapping.
 */
import type pg from 'pg';
import type { Queryable } from './queryable';

/**
 * In import order (references first). `stitch_flows.current_version_id` points forward at
 * versions: it is left out on insert and set once the versions are in (`linkCurrentVersions`).
 * Runs come with `--runs` only: finished runs whose parent runs, if any, are finished too, in
 * creation order (a parent and a re-run's source before the runs that name them).
 */
export const PROJECT_TABLES = [
  'stitch_settings',
  'stitch_credentials',
  'stitch_flows',
  'stitch_flow_versions',
  'stitch_triggers',
  'stitch_schedules',
  'stitch_datasets',
  'stitch_dataset_versions',
  'stitch_dataset_rows',
] as const;
export const RUN_TABLES = ['stitch_runs', 'stitch_node_runs', 'stitch_events', 'stitch_node_usage', 'stitch_fan_in'] as const;
export type ArchiveTable = (typeof PROJECT_TABLES)[number] | (typeof RUN_TABLES)[number];

/** What each table's export selects: rows as JSON, references to runs not exported cleared. */
const EXPORT_SQL: Record<ArchiveTable, string> = {
  stitch_settings: 'SELECT to_jsonb(t) AS r FROM stitch_settings t ORDER BY key',
  stitch_credentials: 'SELECT to_jsonb(t) AS r FROM stitch_credentials t ORDER BY name',
  stitch_flows: 'SELECT to_jsonb(t) AS r FROM stitch_flows t ORDER BY created_at, id',
  stitch_flow_versions: 'SELECT to_jsonb(t) AS r FROM stitch_flow_versions t ORDER BY created_at, id',
  stitch_triggers: 'SELECT to_jsonb(t) AS r FROM stitch_triggers t ORDER BY created_at, id',
  stitch_datasets: 'SELECT to_jsonb(t) AS r FROM stitch_datasets t ORDER BY created_at, id',
  stitch_dataset_versions: 'SELECT to_jsonb(t) AS r FROM stitch_dataset_versions t ORDER BY dataset_id, version',
  stitch_dataset_rows: 'SELECT to_jsonb(t) AS r FROM stitch_dataset_rows t ORDER BY dataset_id, version, idx',
  stitch_schedules: `SELECT to_jsonb(t) || jsonb_build_object('last_run_id',
                       (SELECT x.id FROM stitch_export_runs x WHERE x.id = t.last_run_id)) AS r
                     FROM stitch_schedules t ORDER BY created_at, id`,
  stitch_runs: `SELECT to_jsonb(t) || jsonb_build_object('rerun_of', (SELECT x.id FROM stitch_export_runs x WHERE x.id = t.rerun_of)) AS r
                FROM stitch_runs t JOIN stitch_export_runs e ON e.id = t.id ORDER BY t.created_at, t.id`,
  stitch_node_runs: 'SELECT to_jsonb(t) AS r FROM stitch_node_runs t JOIN stitch_export_runs e ON e.id = t.run_id ORDER BY t.run_id, t.instance_id',
  stitch_events: 'SELECT to_jsonb(t) AS r FROM stitch_events t JOIN stitch_export_runs e ON e.id = t.run_id ORDER BY t.id',
  stitch_node_usage: 'SELECT to_jsonb(t) AS r FROM stitch_node_usage t JOIN stitch_export_runs e ON e.id = t.run_id ORDER BY t.id',
  stitch_fan_in: 'SELECT to_jsonb(t) AS r FROM stitch_fan_in t JOIN stitch_export_runs e ON e.id = t.run_id ORDER BY t.run_id, t.instance_id, t.shard',
};

/**
 * Open the export's snapshot on `client` (REPEATABLE READ: every table as of one instant) and
 * choose the runs to export (none without `withRuns`). Returns the schema version (the highest
 * migration applied).
 */
export async function beginExport(client: pg.PoolClient, withRuns: boolean): Promise<number> {
  await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
  await client.query(
    `CREATE TEMP TABLE stitch_export_runs ON COMMIT DROP AS
     WITH RECURSIVE fam AS (
       SELECT id FROM stitch_runs WHERE $1 AND parent_run_id IS NULL AND status IN ('completed', 'failed', 'cancelled')
       UNION ALL
       SELECT r.id FROM stitch_runs r JOIN fam ON r.parent_run_id = fam.id WHERE r.status IN ('completed', 'failed', 'cancelled')
     ) SELECT id FROM fam`,
    [withRuns],
  );
  await client.query('CREATE UNIQUE INDEX ON stitch_export_runs (id)');
  const { rows } = await client.query<{ v: number }>('SELECT max(id)::int AS v FROM stitch_migrations');
  return rows[0].v;
}

/** End the export's snapshot (its temporary table goes with it). */
export async function endExport(client: pg.PoolClient, commit: boolean): Promise<void> {
  await client.query(commit ? 'COMMIT' : 'ROLLBACK');
}

/** Runs left out of an export with runs: not finished, or inside an unfinished run's family. */
export async function countRunsLeftOut(client: Queryable): Promise<number> {
  const { rows } = await client.query<{ n: number }>('SELECT count(*)::int AS n FROM stitch_runs t WHERE NOT EXISTS (SELECT 1 FROM stitch_export_runs e WHERE e.id = t.id)');
  return rows[0].n;
}

/** Read a table's rows in pages through a cursor on the export's snapshot. */
export async function* exportRows(client: pg.PoolClient, table: ArchiveTable, pageSize = 1000): AsyncGenerator<Record<string, unknown>[]> {
  const cursor = `stitch_export_${table}`;
  await client.query(`DECLARE ${cursor} NO SCROLL CURSOR FOR ${EXPORT_SQL[table]}`);
  for (;;) {
    const { rows } = await client.query<{ r: Record<string, unknown> }>(`FETCH ${pageSize} FROM ${cursor}`);
    if (rows.length === 0) break;
    yield rows.map((x) => x.r);
  }
  await client.query(`CLOSE ${cursor}`);
}

/** The highest migration applied to this database. */
export async function schemaVersion(db: Queryable): Promise<number> {
  const { rows } = await db.query<{ v: number }>('SELECT max(id)::int AS v FROM stitch_migrations');
  return rows[0].v;
}

/** Tables of the archive that already hold rows (an import goes into an empty database only). */
export async function nonEmptyTables(db: Queryable): Promise<string[]> {
  const tables = ['stitch_flows', 'stitch_flow_versions', 'stitch_runs', 'stitch_credentials', 'stitch_triggers', 'stitch_schedules', 'stitch_datasets'];
  const { rows } = await db.query<{ t: string }>(tables.map((t) => `SELECT '${t}' AS t WHERE EXISTS (SELECT 1 FROM ${t})`).join(' UNION ALL '));
  return rows.map((r) => r.t);
}

/** Columns an insert may name (generated columns are computed by the database). */
export async function insertableColumns(db: Queryable, table: ArchiveTable): Promise<Set<string>> {
  const { rows } = await db.query<{ column_name: string }>(
    `SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1 AND is_generated = 'NEVER'`,
    [table],
  );
  return new Set(rows.map((r) => r.column_name));
}

const quoteIdent = (name: string) => `"${name.replace(/"/g, '""')}"`;

/**
 * Insert rows of `table` naming `columns` only (columns the archive lacks take their defaults).
 * Settings already present (a first start generates some) take the archive's value.
 */
export async function insertArchiveRows(db: Queryable, table: ArchiveTable, columns: string[], rows: Record<string, unknown>[]): Promise<void> {
  const list = columns.map(quoteIdent).join(', ');
  const onConflict = table === 'stitch_settings' ? ' ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value' : '';
  await db.query(`INSERT INTO ${table} (${list}) SELECT ${list} FROM jsonb_populate_recordset(NULL::${table}, $1::jsonb)${onConflict}`, [JSON.stringify(rows)]);
}

/** Point imported flows at their current versions (left out on insert: they did not exist yet). */
export async function linkCurrentVersions(db: Queryable, links: Array<{ id: string; v: string }>): Promise<void> {
  if (links.length === 0) return;
  await db.query(
    `UPDATE stitch_flows f SET current_version_id = x.v FROM jsonb_to_recordset($1::jsonb) AS x(id uuid, v uuid) WHERE f.id = x.id`,
    [JSON.stringify(links)],
  );
}

/** After rows arrived with their ids: sequences continue past them. */
export async function advanceSequences(db: Queryable): Promise<void> {
  for (const table of ['stitch_events', 'stitch_node_usage']) {
    await db.query(`SELECT setval(pg_get_serial_sequence('${table}', 'id'), greatest((SELECT max(id) FROM ${table}), 1))`);
  }
}

/**
 * Backup and move (docs/operations.md, "Backup and move"): `stitch export-data FILE` writes a
 * versioned archive of a project — settings (the generated secrets), sealed credentials, flows
 * with every version, triggers, schedules and, with `--runs`, finished runs with their node rows,
 * events and usage — and `stitch import-data FILE` writes it into an empty database, embedded or
 * not. The embedded PostgreSQL ships no pg_dump; this is how it is backed up, and how a project
 * moves from it to a PostgreSQL server.
 *
 * The archive is gzipped JSON Lines: a header `{format, version, schema, exportedAt, runs}`, one
 * `{t: table, r: row}` per row in import order, and a trailer `{end: true, counts}` whose absence
 * means a truncated file. Credentials stay sealed (AES-256-GCM): they decrypt where the same vault
 * key is configured. Secrets that are stored in clear (webhook trigger secrets, the generated
 * callback and signing secrets) travel in clear: the file is written 0600; keep it as the database.
 */
import { once } from 'node:events';
import { createReadStream, createWriteStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { createGunzip, createGzip } from 'node:zlib';
import type pg from 'pg';
import { ValidationError } from '@/lib/errors';
import { withTransaction } from '@/lib/db/pool';
import {
  PROJECT_TABLES,
  RUN_TABLES,
  advanceSequences,
  beginExport,
  endExport,
  countRunsLeftOut,
  exportRows,
  insertArchiveRows,
  insertableColumns,
  linkCurrentVersions,
  nonEmptyTables,
  schemaVersion,
  type ArchiveTable,
} from '@/lib/db/queries/data-archive';
import { placeAllScheduleTicks } from '@/lib/db/queries/schedules';
import { reloadVaultNow } from '@/lib/vault/sync';

export const ARCHIVE_FORMAT = 'stitch-data';
/** Bumped when the archive's layout (not the schema) changes; an import reads this version and older. */
export const ARCHIVE_VERSION = 1;
const INSERT_BATCH = 500;

export interface ArchiveHeader {
  format: typeof ARCHIVE_FORMAT;
  version: number;
  /** The source database's highest migration: an import needs at least this one. */
  schema: number;
  exportedAt: string;
  runs: boolean;
}

export type TableCounts = Partial<Record<ArchiveTable, number>>;

export interface ExportSummary {
  counts: TableCounts;
  /** With runs: runs not exported because they (or a run of their family) had not finished. */
  runsLeftOut: number;
}

/** Write the archive of the database behind `pool` to `file`. */
export async function exportData(pool: pg.Pool, file: string, options: { runs?: boolean } = {}): Promise<ExportSummary> {
  const withRuns = options.runs === true;
  const gzip = createGzip();
  const out = createWriteStream(file, { mode: 0o600 });
  gzip.pipe(out);
  const write = async (value: unknown) => {
    if (!gzip.write(`${JSON.stringify(value)}\n`)) await once(gzip, 'drain');
  };
  const client = await pool.connect();
  const counts: TableCounts = {};
  let runsLeftOut = 0;
  try {
    const schema = await beginExport(client, withRuns);
    const header: ArchiveHeader = { format: ARCHIVE_FORMAT, version: ARCHIVE_VERSION, schema, exportedAt: new Date().toISOString(), runs: withRuns };
    await write(header);
    for (const table of withRuns ? [...PROJECT_TABLES, ...RUN_TABLES] : PROJECT_TABLES) {
      counts[table] = 0;
      for await (const page of exportRows(client, table)) {
        for (const r of page) await write({ t: table, r });
        counts[table] += page.length;
      }
    }
    if (withRuns) runsLeftOut = await countRunsLeftOut(client);
    await write({ end: true, counts });
    await endExport(client, true);
  } catch (error) {
    await endExport(client, false).catch(() => {});
    gzip.destroy();
    throw error;
  } finally {
    client.release();
  }
  gzip.end();
  await once(out, 'finish');
  return { counts, runsLeftOut };
}

/** The archive's lines, parsed, one at a time (a line that is not JSON is a damaged file). */
async function* archiveLines(file: string): AsyncGenerator<Record<string, unknown>> {
  const lines = createInterface({ input: createReadStream(file).pipe(createGunzip()), crlfDelay: Infinity });
  let n = 0;
  for await (const line of lines) {
    n++;
    if (!line) continue;
    try {
      yield JSON.parse(line) as Record<string, unknown>;
    } catch {
      throw new ValidationError(`${file} is not a Stitch data archive (line ${n} is not JSON)`);
    }
  }
}

function checkHeader(first: Record<string, unknown> | undefined, file: string, targetSchema: number): ArchiveHeader {
  if (!first || first.format !== ARCHIVE_FORMAT) throw new ValidationError(`${file} is not a Stitch data archive (made by \`stitch export-data\`)`);
  const header = first as unknown as ArchiveHeader;
  if (typeof header.version !== 'number' || header.version > ARCHIVE_VERSION) {
    throw new ValidationError(`${file} is archive version ${header.version}; this Stitch reads version ${ARCHIVE_VERSION} and older: upgrade Stitch first`);
  }
  if (header.schema > targetSchema) {
    throw new ValidationError(`${file} comes from a newer Stitch (schema ${header.schema}, this database has ${targetSchema}): upgrade Stitch first`);
  }
  return header;
}

/** Rows of one table, inserted in batches; columns the archive has and this database lacks are an error. */
class TableWriter {
  #rows: Record<string, unknown>[] = [];
  #columns: string[] | undefined;
  count = 0;

  constructor(
    private readonly client: pg.PoolClient,
    readonly table: ArchiveTable,
    private readonly known: Set<string>,
  ) {}

  async add(row: Record<string, unknown>): Promise<void> {
    if (!this.#columns) {
      const unknown = Object.keys(row).filter((c) => !this.known.has(c));
      if (unknown.length) throw new ValidationError(`The archive's ${this.table} has column(s) this database lacks (${unknown.join(', ')}): upgrade Stitch first`);
      this.#columns = Object.keys(row);
    }
    this.#rows.push(row);
    if (this.#rows.length >= INSERT_BATCH) await this.flush();
  }

  async flush(): Promise<void> {
    if (this.#rows.length === 0) return;
    await insertArchiveRows(this.client, this.table, this.#columns!, this.#rows);
    this.count += this.#rows.length;
    this.#rows = [];
  }
}

const ARCHIVE_TABLES = new Set<string>([...PROJECT_TABLES, ...RUN_TABLES]);

/** Write an archive into this (empty) database, in one transaction: all of it, or nothing. */
export async function importData(file: string): Promise<{ header: ArchiveHeader; counts: TableCounts; schedules: number }> {
  const result = await withTransaction(async (client) => {
    const occupied = await nonEmptyTables(client);
    if (occupied.length) throw new ValidationError(`import-data writes into an empty database; this one has rows in ${occupied.join(', ')}`);
    const lines = archiveLines(file);
    const header = checkHeader((await lines.next()).value ?? undefined, file, await schemaVersion(client));
    const counts: TableCounts = Object.fromEntries((header.runs ? [...PROJECT_TABLES, ...RUN_TABLES] : PROJECT_TABLES).map((t) => [t, 0]));
    const links: Array<{ id: string; v: string }> = [];
    let writer: TableWriter | undefined;
    let trailer: Record<string, unknown> | undefined;
    for await (const line of lines) {
      if (line.end === true) {
        trailer = line;
        break;
      }
      const table = line.t as ArchiveTable;
      const row = line.r as Record<string, unknown>;
      if (!ARCHIVE_TABLES.has(table) || !row || typeof row !== 'object') throw new ValidationError(`${file} has a line that is not a row of a known table`);
      if (writer?.table !== table) {
        await writer?.flush();
        if (writer) counts[writer.table] = writer.count;
        // Versions arrive after their flows: the flows' current versions are linked once they exist.
        if (writer?.table === 'stitch_flow_versions') await linkCurrentVersions(client, links);
        writer = new TableWriter(client, table, await insertableColumns(client, table));
      }
      if (table === 'stitch_flows' && row.current_version_id) {
        links.push({ id: String(row.id), v: String(row.current_version_id) });
        row.current_version_id = null;
      }
      await writer.add(row);
    }
    if (!trailer) throw new ValidationError(`${file} is truncated (no end marker): nothing was imported`);
    await writer?.flush();
    if (writer) counts[writer.table] = writer.count;
    if (writer?.table === 'stitch_flow_versions') await linkCurrentVersions(client, links);
    const expected = (trailer.counts ?? {}) as TableCounts;
    for (const [table, n] of Object.entries(expected)) {
      if ((counts[table as ArchiveTable] ?? 0) !== n) throw new ValidationError(`${file} is damaged: ${table} has ${counts[table as ArchiveTable] ?? 0} rows, its trailer says ${n}`);
    }
    await advanceSequences(client);
    const schedules = await placeAllScheduleTicks(client);
    return { header, counts, schedules };
  });
  // Other processes learn of the credentials through the vault's NOTIFY; this one uses them at once.
  await reloadVaultNow();
  return result;
}

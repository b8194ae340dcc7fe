/**
 * The process's one PostgreSQL pool. `openDatabase()` connects to `DATABASE_URL`, or starts the
 * embedded database when there is none; everything else (engine, queue runner, the seed's
 * `updateNodeState`) uses `getPool()`.
 */
import pg from 'pg';
import { getConfig, type Config } from '../config';
import { StitchError } from '../errors';
import { getLogger } from '../log';
import { startEmbeddedPostgres, type EmbeddedDatabase } from './embedded';
import { isConnectionError } from './transient';

// bigint columns (event ids) arrive as JS numbers: they stay far below 2^53.
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number(v));

export interface Database {
  pool: pg.Pool;
  url: string;
  embedded?: EmbeddedDatabase;
}

let current: Database | undefined;

export interface OpenDatabaseOptions {
  config?: Config;
  /** Pool size; default: queue concurrency + 10. */
  max?: number;
  /**
   * Wait this long for a database that is down (long-running processes: a supervisor restarted
   * them while PostgreSQL restarts too). Default 0: one-shot commands fail at once.
   */
  waitSeconds?: number;
}

/** Open (once per process) the pool, starting the embedded database if `DATABASE_URL` is unset. */
export async function openDatabase(options: OpenDatabaseOptions = {}): Promise<Database> {
  if (current) return current;
  const config = options.config ?? getConfig();
  let embedded: EmbeddedDatabase | undefined;
  let url = config.databaseUrl;
  if (!url) {
    embedded = await startEmbeddedPostgres(config.dataDir);
    url = embedded.url;
  }
  const pool = new pg.Pool({ connectionString: url, max: options.max ?? config.concurrency + 10 });
  // An idle client's error (server restart) must not crash the process; the pool replaces it.
  pool.on('error', () => {});
  pool.on('connect', (client) => client.on('error', () => {}));
  try {
    const { rows } = await waitForDatabase(pool, embedded ? 0 : (options.waitSeconds ?? 0));
    if (rows[0].v < 140000) {
      throw new StitchError('postgres_too_old', `Stitch needs PostgreSQL 14 or newer; this server is ${rows[0].v}.`);
    }
  } catch (error) {
    await pool.end().catch(() => {});
    await embedded?.stop();
    throw error;
  }
  current = { pool, url, embedded };
  return current;
}

/**
 * The server's version, asked until the database answers: a process started while PostgreSQL is
 * down (or restarting) waits for it, with back-off, for up to `waitSeconds`, instead of exiting.
 */
async function waitForDatabase(pool: pg.Pool, waitSeconds: number): Promise<pg.QueryResult<{ v: number }>> {
  const giveUpAt = Date.now() + waitSeconds * 1000;
  for (let delay = 250; ; delay = Math.min(delay * 2, 5000)) {
    try {
      return await pool.query<{ v: number }>(`SELECT current_setting('server_version_num')::int AS v`);
    } catch (error) {
      if (!isConnectionError(error) || Date.now() + delay > giveUpAt) throw error;
      getLogger().warn({ error: String(error), retryInMs: delay }, 'waiting for the database');
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}

export function getPool(): pg.Pool {
  if (!current) {
    throw new StitchError('db_not_open', 'The database is not open: call openDatabase() (or start Stitch) first.');
  }
  return current.pool;
}

export function isDatabaseOpen(): boolean {
  return current !== undefined;
}

/** Close the pool and stop the embedded database if this process started it. */
export async function closeDatabase(): Promise<void> {
  const db = current;
  current = undefined;
  if (!db) return;
  await db.pool.end().catch(() => {});
  await db.embedded?.stop();
}

/** Run `fn` in a transaction on one client. */
export async function withTransaction<T>(fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await getPool().connect();
  try {
    await client.query('BEGIN');
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {});
    throw error;
  } finally {
    client.release();
  }
}

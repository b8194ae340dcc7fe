/**
 * Schema migrations: graphile-worker's own (its schema, untouched by us) and then Stitch's numbered
 * SQL files in `migrations/`. A session-level advisory lock makes concurrent starts safe: the first
 * process migrates, the others wait and then find nothing to do.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type pg from 'pg';
import { Logger, runMigrations } from 'graphile-worker';
import { getPool } from './pool';

const MIGRATIONS_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'migrations');
/** Arbitrary constant: "stitch migrations" as a 64-bit advisory lock key. */
const MIGRATION_LOCK_KEY = 7_357_001_123;

export interface Migration {
  id: number;
  name: string;
  sql: string;
}

export function listMigrations(): Migration[] {
  return readdirSync(MIGRATIONS_DIR)
    .filter((f) => /^\d{4}_[a-z0-9_]+\.sql$/.test(f))
    .sort()
    .map((file) => ({
      id: Number(file.slice(0, 4)),
      name: file.replace(/\.sql$/, ''),
      sql: readFileSync(path.join(MIGRATIONS_DIR, file), 'utf8'),
    }));
}

/** Apply every pending migration; returns the names applied by this call. */
export async function migrate(pool: pg.Pool = getPool()): Promise<string[]> {
  const client = await pool.connect();
  const applied: string[] = [];
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    try {
      await runMigrations({ pgPool: pool, logger: quietLogger });
      await client.query(`CREATE TABLE IF NOT EXISTS stitch_migrations (
        id integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
      const { rows } = await client.query<{ id: number }>('SELECT id FROM stitch_migrations');
      const done = new Set(rows.map((r) => r.id));
      for (const migration of listMigrations()) {
        if (done.has(migration.id)) continue;
        await client.query('BEGIN');
        try {
          await client.query('INSERT INTO stitch_migrations (id, name) VALUES ($1, $2)', [migration.id, migration.name]);
          await client.query(migration.sql);
          await client.query('COMMIT');
          applied.push(migration.name);
        } catch (error) {
          await client.query('ROLLBACK');
          throw new Error(`Migration ${migration.name} failed: ${(error as Error).message}`, { cause: error });
        }
      }
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]);
    }
  } finally {
    client.release();
  }
  return applied;
}


/** graphile-worker logs every migration at info; Stitch reports migrations itself. */
const quietLogger = new Logger(() => () => {});

/**
 * Per-file test databases on the run's PostgreSQL server, and a Stitch started on one.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';
import { getConfig, type Config } from '@/lib/config';
import { startStitch, type StitchInstance, type StitchOptions } from '@/lib/stitch';

let admin: Promise<string> | undefined;

/** The run's PostgreSQL server (test/global-setup.ts starts it when the first file asks). */
export function adminUrl(): Promise<string> {
  admin ??= fetch(inject('databaseBroker')).then(async (res) => {
    const text = await res.text();
    if (!res.ok) throw new Error(`the test database did not start: ${text}`);
    return text;
  });
  return admin;
}

function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

/** Create an empty database; returns its URL. */
export async function createTestDatabase(): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `stitch_t_${randomBytes(6).toString('hex')}`;
  const url = await adminUrl();
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  await client.query(`CREATE DATABASE ${name}`);
  await client.end();
  return {
    url: withDatabase(url, name),
    drop: async () => {
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}

export interface TestStitch extends StitchInstance {
  url: string;
  /** Stop Stitch and drop the database. */
  destroy(): Promise<void>;
}

/** A fresh database with Stitch (and, unless `runner: false`, a queue runner) started on it. */
export async function startTestStitch(options: StitchOptions & { env?: Record<string, string> } = {}): Promise<TestStitch> {
  const db = await createTestDatabase();
  const config: Config = getConfig({
    STITCH_LOG_LEVEL: 'warn',
    STITCH_SECRET: 'test-secret-0123456789',
    ...options.env,
    DATABASE_URL: db.url,
  });
  const stitch = await startStitch({ pollIntervalMs: 200, ...options, config });
  return {
    ...stitch,
    url: db.url,
    destroy: async () => {
      await stitch.stop();
      await db.drop();
    },
  };
}

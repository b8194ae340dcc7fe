/**
 * Per-file test databases on the run's PostgreSQL server, and a Stitch started on one.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';
import { getConfig, type Config } from '@/lib/config';
import { startStitch, type StitchInstance, type StitchOptions } from '@/lib/stitch';

export function adminUrl(): string {
  return inject('adminUrl');
}

function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

/** Create an empty database; returns its URL. */
export async function createTestDatabase(): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `stitch_t_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl() });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  return {
    url: withDatabase(adminUrl(), name),
    drop: async () => {
      const c = new pg.Client({ connectionString: adminUrl() });
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

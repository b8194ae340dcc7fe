/**
 * Databases for benchmarks: the server at DATABASE_URL, or a fresh embedded PostgreSQL in a temporary
 * directory; and a new empty database on it per case.
 */
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { startEmbeddedPostgres } from '@/lib/db/embedded';

export interface BenchServer {
  adminUrl: string;
  stop: () => Promise<void>;
}

export async function openBenchServer(): Promise<BenchServer> {
  if (process.env.DATABASE_URL) return { adminUrl: process.env.DATABASE_URL, stop: async () => {} };
  const dir = mkdtempSync(path.join(tmpdir(), 'stitch-bench-'));
  chmodSync(dir, 0o755); // the postgres OS user must reach the data dir inside
  const embedded = await startEmbeddedPostgres(dir);
  return {
    adminUrl: embedded.url,
    stop: async () => {
      await embedded.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Create an empty database named `<prefix>_<random>` on the server; returns its URL. */
export async function createBenchDatabase(adminUrl: string, prefix = 'stitch_bench'): Promise<string> {
  const name = `${prefix}_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

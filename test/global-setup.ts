/**
 * One PostgreSQL server for the whole test run: the one at DATABASE_URL when set (e.g. the
 * machine's PostgreSQL 15), else a fresh embedded PostgreSQL in a temporary directory. Each test
 * file then creates its own database on it (test/db.ts), so files never see each other's rows.
 */
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { startEmbeddedPostgres, type EmbeddedDatabase } from '../src/lib/db/embedded';

let embedded: EmbeddedDatabase | undefined;
let dir: string | undefined;

export async function setup(project: TestProject) {
  let adminUrl = process.env.DATABASE_URL;
  if (!adminUrl) {
    dir = mkdtempSync(path.join(tmpdir(), 'stitch-test-'));
    chmodSync(dir, 0o755); // the postgres OS user must reach the data dir inside
    embedded = await startEmbeddedPostgres(dir);
    adminUrl = embedded.url;
  }
  project.provide('adminUrl', adminUrl);
}

export async function teardown() {
  await embedded?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
}

declare module 'vitest' {
  export interface ProvidedContext {
    adminUrl: string;
  }
}

/**
 * One PostgreSQL server for the whole test run, started only when a test file first needs it:
 * the one at DATABASE_URL when set (e.g. the machine's PostgreSQL 15), else a fresh embedded
 * PostgreSQL in a temporary directory. Files that need no database (the worker harness tests)
 * never start one.
 *
 * Test files run in forked processes, so the server lives here, in vitest's main process, behind a
 * small loopback endpoint: `test/db.ts` asks it for the admin URL (GET /admin-url), which starts the
 * server on the first request. Each test file then creates its own database on it.
 */
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { startEmbeddedPostgres, type EmbeddedDatabase } from '../src/lib/db/embedded';

let embedded: EmbeddedDatabase | undefined;
let dir: string | undefined;
let starting: Promise<string> | undefined;
let broker: Server | undefined;

function adminUrl(): Promise<string> {
  starting ??= (async () => {
    if (process.env.DATABASE_URL) return process.env.DATABASE_URL;
    dir = mkdtempSync(path.join(tmpdir(), 'stitch-test-'));
    chmodSync(dir, 0o755); // the postgres OS user must reach the data dir inside
    embedded = await startEmbeddedPostgres(dir);
    return embedded.url;
  })();
  return starting;
}

export async function setup(project: TestProject) {
  broker = createServer((req, res) => {
    adminUrl().then(
      (url) => res.writeHead(200, { 'content-type': 'text/plain' }).end(url),
      (error: Error) => res.writeHead(500, { 'content-type': 'text/plain' }).end(error.message),
    );
  });
  await new Promise<void>((resolve) => broker!.listen(0, '127.0.0.1', () => resolve()));
  project.provide('databaseBroker', `http://127.0.0.1:${(broker.address() as AddressInfo).port}/admin-url`);
}

export async function teardown() {
  await new Promise<void>((resolve) => (broker ? broker.close(() => resolve()) : resolve()));
  await embedded?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
}

declare module 'vitest' {
  export interface ProvidedContext {
    /** GET it for the admin URL of the run's PostgreSQL server (started on the first request). */
    databaseBroker: string;
  }
}

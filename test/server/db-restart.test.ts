/**
 * Issue 10 A.0: a PostgreSQL restart under a live Stitch (server + queue runner in one process).
 * The runner must ride it out (no unhandled rejection, no exit), the API must answer 503
 * `unavailable` while the database is gone (not 500), runs in flight must finish once it is back,
 * and an `Idempotency-Key` retry must return the same run.
 *
 * The database is a private embedded PostgreSQL on a fixed port, so the test can stop and start it.
 */
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getConfig } from '@/lib/config';
import { freePort, startEmbeddedPostgres, type EmbeddedDatabase } from '@/lib/db/embedded';
import { startStitch, type StitchInstance } from '@/lib/stitch';
import { createLogger, setLogger } from '@/lib/log';
import { startQueueRunner, type QueueRunner } from '@/lib/engine/runner';
import { Writable } from 'node:stream';
import { startServer, type RunningServer } from '@/server/listen';
import { eventually, graph } from '../helpers';
import { spawnStitch } from './processes';

let dir: string;
let port: number;
let db: EmbeddedDatabase;
let stitch: StitchInstance;
let server: RunningServer;
let second: QueueRunner;
const logLines: string[] = [];
const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => unhandled.push(reason);

async function api(method: string, p: string, body?: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(server.url + p, {
    method,
    headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

beforeAll(async () => {
  process.on('unhandledRejection', onUnhandled);
  dir = mkdtempSync(path.join(tmpdir(), 'stitch-restart-'));
  chmodSync(dir, 0o755);
  port = await freePort();
  db = await startEmbeddedPostgres(dir, { port });
  const config = getConfig({
    DATABASE_URL: db.url,
    STITCH_SECRET: 'test-secret-0123456789',
    PORT: '0',
    STITCH_LOG_LEVEL: 'warn',
    STITCH_HEARTBEAT_SECONDS: '1',
    STITCH_STALE_RUNNER_SECONDS: '2',
  });
  setLogger(createLogger('warn', new Writable({ write: (chunk, _e, cb) => (logLines.push(String(chunk)), cb()) })));
  stitch = await startStitch({ config, pollIntervalMs: 200 });
  // A second live runner in this process: after the outage, nobody may take it for dead.
  second = await startQueueRunner({ runtime: stitch.runtime, url: stitch.db.url, databaseWaitSeconds: 60, concurrency: 2, heartbeatSeconds: 1, staleRunnerSeconds: 2, pollIntervalMs: 200 });
  server = await startServer(config);
});

afterAll(async () => {
  process.off('unhandledRejection', onUnhandled);
  await server?.close();
  await second?.stop();
  await stitch?.stop();
  await db?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('a PostgreSQL restart under a live Stitch', () => {
  it('answers 503 while the database is down, then finishes every run; the runner survives', async () => {
    const g = graph(['s:start', { id: 'w', workerType: 'wait', config: { seconds: 1 } }, { id: 'w2', workerType: 'wait', config: { seconds: 0.2 } }, 'e:end'], [['s', 'w'], ['w', 'w2'], ['w2', 'e']]);
    const flow = await api('POST', '/api/flows', { name: 'restart', graph: g });
    expect(flow.status).toBe(201);
    const started = await api('POST', `/api/flows/${flow.body.id}/run`, { input: { n: 1 } });
    expect(started.status).toBe(202);

    await db.stop();
    const read = await api('GET', `/api/runs/${started.body.runId}`);
    expect(read.status).toBe(503);
    expect(read.body.error.code).toBe('unavailable');
    const start = await api('POST', `/api/flows/${flow.body.id}/run`, { input: {} });
    expect(start.status).toBe(503);
    expect((await api('GET', '/api/health')).status).toBe(503);
    // Long enough for the runner's heartbeat, sweep and queue fetches to fail a few times.
    await new Promise((r) => setTimeout(r, 3000));

    db = await startEmbeddedPostgres(dir, { port });
    const done = await eventually(async () => {
      const r = await api('GET', `/api/runs/${started.body.runId}`).catch(() => undefined);
      return r?.status === 200 && ['completed', 'failed'].includes(r.body.status) && r.body;
    }, 60_000);
    expect(done.status).toBe('completed');

    // The runner still runs new work.
    const again = await api('POST', `/api/flows/${flow.body.id}/run`, { input: {} });
    expect(again.status).toBe(202);
    const finished = await eventually(async () => {
      const r = await api('GET', `/api/runs/${again.body.runId}`);
      return r.body.status === 'completed' && r.body;
    }, 60_000);
    expect(finished.status).toBe('completed');
    expect(unhandled).toEqual([]);
    // The outage (3 s) outlasted the stale threshold (2 s), yet no sweeper released a live runner's jobs.
    expect(logLines.filter((l) => l.includes('released the jobs of runners'))).toEqual([]);
  });

  it('Idempotency-Key: the same key and body return the same run; another body is 409', async () => {
    const flow = await api('POST', '/api/flows', { name: 'idem', graph: graph(['s:start', 'e:end'], [['s', 'e']]) });
    const headers = { 'idempotency-key': 'retry-me-1' };
    const first = await api('POST', `/api/flows/${flow.body.id}/run`, { input: { a: 1, b: 2 } }, headers);
    expect(first.status).toBe(202);
    const retry = await api('POST', `/api/flows/${flow.body.id}/run`, { input: { b: 2, a: 1 } }, headers);
    expect(retry.status).toBe(200);
    expect(retry.body.runId).toBe(first.body.runId);
    const other = await api('POST', `/api/flows/${flow.body.id}/run`, { input: { a: 2 } }, headers);
    expect(other.status).toBe(409);
    expect(other.body.error.code).toBe('conflict');
    // Concurrent retries with one key: one run.
    const racing = await Promise.all(Array.from({ length: 8 }, () => api('POST', `/api/flows/${flow.body.id}/run`, { input: {} }, { 'idempotency-key': 'race-1' })));
    expect(new Set(racing.map((r) => r.body.runId)).size).toBe(1);
    expect(racing.filter((r) => r.status === 202)).toHaveLength(1);
    const runs = await api('GET', `/api/runs?flowId=${flow.body.id}&limit=50`);
    expect(runs.body.runs).toHaveLength(2);
  });

  it('a worker started while the database is down waits for it; one that may not wait exits non-zero', async () => {
    await db.stop();
    const patient = spawnStitch(['worker'], { DATABASE_URL: db.url, STITCH_DB_WAIT_SECONDS: '120', STITCH_SECRET: 'test-secret-0123456789' });
    const impatient = spawnStitch(['worker'], { DATABASE_URL: db.url, STITCH_DB_WAIT_SECONDS: '1', STITCH_SECRET: 'test-secret-0123456789' });
    try {
      expect(await impatient.exited).not.toBe(0);
      await patient.waitFor(/waiting for the database/);
      expect(patient.child.exitCode).toBeNull();
      db = await startEmbeddedPostgres(dir, { port });
      await patient.waitFor(/Stitch worker \S+ is ready/);
    } finally {
      await patient.stop();
      await impatient.stop();
    }
  });
});

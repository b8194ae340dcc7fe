/**
 * `stitch worker --remote <url>`: a second process, with no database, serves this project's
 * workers to a server that does not run them itself, through the same pull protocol.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WORKER_DEFINITIONS, workerRegistry } from '@/lib/workers/registry';
import { graph, waitForRun } from '../helpers';
import type { SpawnedProcess } from '../processes';
import { startTestServer, type TestServer } from '../server/http';

const CLI = fileURLToPath(new URL('../../src/cli/index.ts', import.meta.url));
let t: TestServer;
let remote: SpawnedProcess | undefined;

beforeAll(async () => {
  // This server does not run `transform` itself: the remote process will.
  workerRegistry.unregister('transform');
  delete WORKER_DEFINITIONS.transform;
  t = await startTestServer();
});
afterAll(async () => {
  remote?.child.kill('SIGKILL');
  await t?.close();
});

describe('stitch worker --remote', () => {
  it('serves the project\'s registered workers to another server, without a database', async () => {
    remote = spawnCli(['worker', '--remote', t.url, '--types', 'transform', '--concurrency', '2']);
    await remote.ready;
    expect(remote.output()).toContain('serving transform');

    const { body } = await t.api('GET', '/api/workers');
    expect(body.workers.find((w: { id: string }) => w.id === 'transform')).toMatchObject({ remote: { online: 1 } });

    const g = graph(['s:start', { id: 'x', workerType: 'transform', config: { set: { greeting: 'hello {{name}}' } } }, 'e:end'], [['s', 'x'], ['x', 'e']]);
    const flow = await t.api('POST', '/api/flows', { name: 'remote transform', graph: g });
    expect(flow.status, JSON.stringify(flow.body)).toBe(201);
    const started = await t.api('POST', `/api/flows/${flow.body.id}/run`, { input: { name: 'remote' } });
    const run = await waitForRun(started.body.runId);
    expect(run.status).toBe('completed');
    expect(run.nodes.x.output).toMatchObject({ name: 'remote', greeting: 'hello remote' });

    remote.child.kill('SIGTERM');
    expect(await remote.exited).toBe(0);
  });
});

/** The CLI as its own OS process (no DATABASE_URL: it must not need one). */
function spawnCli(args: string[]): SpawnedProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', CLI, ...args], {
    env: { PATH: process.env.PATH, STITCH_LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const ready = new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (chunk) => {
      out += chunk;
      if (out.includes('serving')) resolve();
    });
    child.stderr!.on('data', (chunk) => (out += chunk));
    child.once('exit', (code) => reject(new Error(`stitch worker --remote exited (${code}):\n${out}`)));
  });
  ready.catch(() => {});
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, output: () => out, ready, exited };
}

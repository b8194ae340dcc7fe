/**
 * The Python client (clients/python), as real python3 processes against a real server: a flow
 * completes through it; two workers share 200 tasks, each done once; kill -9 mid-task → the lease
 * expires → another worker finishes it as attempt 2; a 50 MB output goes through the presigned
 * upload with the Python process's memory flat; SIGTERM hands back what it cannot finish.
 */
import { mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '@/lib/db/embedded';
import { getPool } from '@/lib/db/pool';
import { graph, waitForRun, eventually } from '../helpers';
import { startServer, type RunningServer } from '@/server/listen';
import { startTestServer, type TestServer } from '../server/http';
import { spawnPythonWorker, type PythonWorker } from './python';
import { openSse } from '../server/sse-client';
import type { StreamMessage } from '@/types/stitch';

const KEY = 'remote-python-key';
let t: TestServer;
let dataDir: string;
const spawned: PythonWorker[] = [];
const api = (method: string, p: string, body?: unknown) => t.api(method, p, body, { authorization: `Bearer ${KEY}` });

function pythonWorker(options: { concurrency?: number; lease?: number; grace?: number } = {}): PythonWorker {
  const w = spawnPythonWorker(t.url, {
    concurrency: options.concurrency,
    env: { STITCH_API_KEY: KEY, LEASE_SECONDS: String(options.lease ?? 30), GRACE_SECONDS: String(options.grace ?? 25) },
  });
  spawned.push(w);
  return w;
}

async function runFlow(g: ReturnType<typeof graph>, input: unknown): Promise<string> {
  const flow = await api('POST', '/api/flows', { name: 'python', graph: g });
  expect(flow.status, JSON.stringify(flow.body)).toBe(201);
  const run = await api('POST', `/api/flows/${flow.body.id}/run`, { input });
  expect(run.status, JSON.stringify(run.body)).toBeLessThan(300);
  return run.body.runId;
}

beforeAll(async () => {
  // Upload URLs and stored files come from the process configuration: point it at this server.
  const port = await freePort();
  dataDir = mkdtempSync(path.join(tmpdir(), 'stitch-remote-data-'));
  process.env.STITCH_BASE_URL = `http://127.0.0.1:${port}`;
  process.env.STITCH_DATA_DIR = dataDir;
  t = await startTestServer({
    env: { PORT: String(port), STITCH_BASE_URL: `http://127.0.0.1:${port}`, STITCH_DATA_DIR: dataDir, STITCH_API_KEY: KEY },
  });
});
afterEach(async () => {
  await Promise.all(spawned.splice(0).map((w) => (w.process.exitCode === null ? (w.process.kill('SIGKILL'), undefined) : undefined)));
});
let restarted: RunningServer | undefined;
afterAll(async () => {
  await restarted?.close();
  await t?.close();
});

describe('the Python client', () => {
  it('completes a flow with a remote node, with progress from heartbeats', async () => {
    const w = pythonWorker();
    await w.waitFor(/^ready$/);
    // Said once, without any logging set up by the script (issue 25.6).
    await eventually(async () => w.stderr().includes('polling for tasks'));
    expect(w.stderr().match(/^stitch_worker: registered .* at http:\/\/127\.0\.0\.1:\d+ as \S+; polling for tasks \(concurrency 1\)$/gm)).toHaveLength(1);
    expect(w.stderr()).toMatch(/registered [^\n]*py-echo/);
    const { body } = await api('GET', '/api/workers');
    expect(body.workers.find((d: { id: string }) => d.id === 'py-echo')).toMatchObject({ remote: { online: 1 }, input: { text: { required: true } } });

    const runId = await runFlow(
      graph(['s:start', { id: 'p', workerType: 'py-echo', config: { suffix: ' from python', sleep: 0.6, steps: 3 } }, 'e:end'], [['s', 'p'], ['p', 'e']]),
      { text: 'hello' },
    );
    const run = await waitForRun(runId);
    expect(run.status).toBe('completed');
    expect(run.nodes.p.output).toMatchObject({ text: 'hello from python', pid: w.process.pid, attempt: 1 });
    const { rows } = await getPool().query(`SELECT payload FROM stitch_events WHERE run_id = $1 AND type = 'node:progress' ORDER BY id`, [runId]);
    expect(rows.length).toBeGreaterThan(0);
    expect(rows.map((r) => r.payload.message)).toContain('step 3 of 3');
  });

  it('streams output with ctx.stream: SSE readers get every word in order while the task runs, then the result', async () => {
    const w = pythonWorker();
    await w.waitFor(/^ready$/);
    const text = Array.from({ length: 40 }, (_, i) => `word${i}`).join(' ');
    const flow = await api('POST', '/api/flows', {
      name: 'python-stream',
      graph: graph(['s:start', { id: 'p', workerType: 'py-stream', config: { pause: 0.02 } }, 'e:end'], [['s', 'p'], ['p', 'e']]),
    });
    const started = await api('POST', `/api/flows/${flow.body.id}/run`, { input: { text } });
    const runId = started.body.runId as string;
    const sse = openSse(`${t.url}/api/runs/${runId}/events`, { authorization: `Bearer ${KEY}` });
    await sse.opened;
    const run = await waitForRun(runId);
    expect(run.status).toBe('completed');
    const streamed = () => sse.events.filter((e) => (e as { type: string }).type === 'node:stream') as unknown as StreamMessage[];
    await eventually(async () => streamed().some((m) => m.parts.some((p) => typeof p === 'object')) || undefined);
    const parts = streamed().flatMap((m) => m.parts);
    expect(parts.filter((p) => typeof p === 'string').join('')).toBe(text);
    expect(parts.at(-1)).toEqual({ words: 40 });
    expect(streamed().every((m) => m.instanceId === 'p' && m.attempt === 1)).toBe(true);
    // The first words came long before the node completed (0.8 s of words).
    const firstWords = sse.events.findIndex((e) => (e as { type: string }).type === 'node:stream');
    const completed = sse.events.findIndex((e) => e.type === 'node:completed' && e.instanceId === 'p');
    expect(firstWords).toBeLessThan(completed);
    // Coalesced by the client: fewer messages than words.
    expect(streamed().length).toBeLessThan(41);
    sse.close();
  });

  it('two workers share 200 tasks, each done once', async () => {
    const a = pythonWorker({ concurrency: 4 });
    const b = pythonWorker({ concurrency: 4 });
    await Promise.all([a.waitFor(/^ready$/), b.waitFor(/^ready$/)]);
    const items = Array.from({ length: 200 }, (_, i) => ({ text: `item-${i}` }));
    const runId = await runFlow(
      graph(
        ['s:start', { id: 'split', type: 'splitter', config: { arrayPath: 'items' } }, { id: 'p', workerType: 'py-echo', config: { sleep: 0.01 } },
          { id: 'c', type: 'collector' }, 'e:end'],
        [['s', 'split'], ['split', 'p'], ['p', 'c'], ['c', 'e']],
      ),
      { items },
    );
    const run = await waitForRun(runId, { timeoutMs: 120_000 });
    expect(run.status).toBe('completed');
    const tasks = await getPool().query(`SELECT state, attempt, worker_id FROM stitch_remote_tasks WHERE run_id = $1`, [runId]);
    expect(tasks.rows).toHaveLength(200);
    expect(tasks.rows.every((r) => r.state === 'done' && r.attempt === 1)).toBe(true);
    const started = [...a.lines, ...b.lines].filter((l) => l.startsWith('started '));
    expect(started).toHaveLength(200);
    expect(new Set(started).size).toBe(200);
    expect(a.lines.filter((l) => l.startsWith('started ')).length).toBeGreaterThan(0);
    expect(b.lines.filter((l) => l.startsWith('started ')).length).toBeGreaterThan(0);
    const outputs = Object.values(run.nodes).filter((n: any) => n.nodeId === 'p').map((n: any) => n.output.text).sort();
    expect(outputs).toEqual(items.map((i) => i.text).sort());
  });

  it('kill -9 mid-task: the lease expires and another worker finishes it as attempt 2', async () => {
    const doomed = pythonWorker({ lease: 3 });
    await doomed.waitFor(/^ready$/);
    const runId = await runFlow(
      graph(['s:start', { id: 'p', workerType: 'py-echo', config: { sleep: 8 } }, 'e:end'], [['s', 'p'], ['p', 'e']]),
      { text: 'survive' },
    );
    await doomed.waitFor(/^started /);
    doomed.process.kill('SIGKILL');
    const rescuer = pythonWorker({ lease: 3 });
    const run = await waitForRun(runId, { timeoutMs: 60_000 });
    expect(run.status).toBe('completed');
    expect(run.nodes.p).toMatchObject({ attempt: 2, output: { text: 'survive', pid: rescuer.process.pid, attempt: 2 } });
    const tasks = await getPool().query(`SELECT attempt, state FROM stitch_remote_tasks WHERE run_id = $1 ORDER BY attempt`, [runId]);
    expect(tasks.rows).toEqual([{ attempt: 1, state: 'expired' }, { attempt: 2, state: 'done' }]);
  });

  it('uploads a 50 MB output through the presigned URL with the Python process memory flat', async () => {
    const w = pythonWorker();
    await w.waitFor(/^ready$/);
    const runId = await runFlow(graph(['s:start', { id: 'p', workerType: 'py-bigfile' }, 'e:end'], [['s', 'p'], ['p', 'e']]), { megabytes: 50 });
    const run = await waitForRun(runId, { timeoutMs: 120_000 });
    expect(run.status, JSON.stringify(run.nodes.p)).toBe('completed');
    const out = run.nodes.p.output as { url: string; bytes: number; peakRssBeforeKb: number; peakRssAfterKb: number };
    // Peak RSS (ru_maxrss, KB) may not grow by more than a few MB while 50 MB are sent.
    expect(out.peakRssAfterKb - out.peakRssBeforeKb).toBeLessThan(8 * 1024);
    expect(out.url.startsWith(`${t.url}/files/remote/${runId}/`)).toBe(true);
    const key = decodeURIComponent(out.url.slice(`${t.url}/files/`.length));
    expect(statSync(path.join(dataDir, 'files', ...key.split('/'))).size).toBe(50 * 1024 * 1024);
    const served = await fetch(out.url, { method: 'HEAD' });
    expect(served.status).toBe(200);
  });

  it('SIGTERM hands back a task it cannot finish within its grace period', async () => {
    const w = pythonWorker({ grace: 0.5 });
    await w.waitFor(/^ready$/);
    const runId = await runFlow(
      graph(['s:start', { id: 'p', workerType: 'py-echo', config: { sleep: 30 } }, 'e:end'], [['s', 'p'], ['p', 'e']]),
      { text: 'handed back' },
    );
    await w.waitFor(/^started /);
    expect(await w.stop()).toBe(0);
    const node = await eventually(async () => {
      const { rows } = await getPool().query(`SELECT attempt, status, error FROM stitch_node_runs WHERE run_id = $1 AND instance_id = 'p'`, [runId]);
      return rows[0]?.attempt === 2 ? rows[0] : undefined;
    });
    expect(node.error).toContain('shut down');
    await api('POST', `/api/runs/${runId}/cancel`);
  });

  it('reconnects with backoff when the server goes away and comes back', async () => {
    const w = pythonWorker();
    await w.waitFor(/^ready$/);
    await t.server.close(); // the worker's long-poll breaks; it retries with backoff
    await eventually(async () => /poll failed .*retrying in/.test(w.stderr()));
    restarted = await startServer(t.stitch.config);
    expect(restarted.url).toBe(t.url);
    const runId = await runFlow(graph(['s:start', { id: 'p', workerType: 'py-echo' }, 'e:end'], [['s', 'p'], ['p', 'e']]), { text: 'again' });
    const run = await waitForRun(runId, { timeoutMs: 60_000 });
    expect(run.nodes.p.output).toMatchObject({ text: 'again', pid: w.process.pid });
  });
});

/**
 * Scale-out: one `serve` process and two `worker` processes (separate OS processes) on one
 * database. 100 runs started through the API all complete; SSE clients connected to `serve` see
 * every event the worker processes wrote, none missing, and every node instance's transitions in
 * the order they happened; what a node streams in a worker process reaches SSE clients of `serve`,
 * a late one getting the prefix first. Then SIGTERM stops all three cleanly (exit code 0).
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StitchEvent } from '@/types/stitch';
import { freePort } from '@/lib/db/embedded';
import { createTestDatabase } from '../db';
import { eventually } from '../helpers';
import { spawnStitch, type StitchProcess } from './processes';
import { openSse, type SseClient } from './sse-client';

const RUNS = 100;
let db: { url: string; drop: () => Promise<void> };
let serve: StitchProcess;
let workers: StitchProcess[] = [];
let baseUrl: string;

/** start → (a, b in parallel) → join → pause (async, scheduled job) → end */
const flowGraph = {
  nodes: [
    { id: 'start', type: 'start', position: { x: 0, y: 0 }, data: {} },
    { id: 'a', type: 'worker', position: { x: 200, y: -80 }, data: { workerType: 'transform', config: { set: { a: 'A {{n}}' } } } },
    { id: 'b', type: 'worker', position: { x: 200, y: 80 }, data: { workerType: 'transform', config: { set: { b: 'B {{n}}' } } } },
    { id: 'join', type: 'worker', position: { x: 400, y: 0 }, data: { workerType: 'transform', config: { set: { joined: '{{a}}+{{b}}' } } } },
    { id: 'pause', type: 'worker', position: { x: 600, y: 0 }, data: { workerType: 'wait', config: { seconds: 0 } } },
    { id: 'end', type: 'end', position: { x: 800, y: 0 }, data: {} },
  ],
  edges: [
    { id: 'e1', source: 'start', target: 'a' },
    { id: 'e2', source: 'start', target: 'b' },
    { id: 'e3', source: 'a', target: 'join' },
    { id: 'e4', source: 'b', target: 'join' },
    { id: 'e5', source: 'join', target: 'pause' },
    { id: 'e6', source: 'pause', target: 'end' },
  ],
};

async function api(method: string, path: string, body?: unknown) {
  const response = await fetch(baseUrl + path, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as any };
}

beforeAll(async () => {
  db = await createTestDatabase();
  const port = await freePort();
  const env = { DATABASE_URL: db.url, STITCH_SECRET: 'scale-out-secret-0123456789', PORT: String(port), STITCH_HEARTBEAT_SECONDS: '1', ANTHROPIC_API_KEY: '' };
  serve = spawnStitch(['serve'], env);
  workers = [spawnStitch(['worker', '--concurrency', '6'], env), spawnStitch(['worker', '--concurrency', '6'], env)];
  const [, url] = await serve.waitFor(/Stitch API is ready at (http:\/\/\S+)/);
  baseUrl = url;
  await Promise.all(workers.map((w) => w.waitFor(/Stitch worker \S+ is ready/)));
}, 120_000);

afterAll(async () => {
  await Promise.all([serve, ...workers].filter(Boolean).map((p) => p.stop()));
  await db?.drop();
});

describe('serve + 2 worker processes', () => {
  it('runs 100 flows to completion; SSE on serve sees every transition, in order, none missing', async () => {
    const created = await api('POST', '/api/flows', { name: 'scale-out', graph: flowGraph });
    expect(created.status).toBe(201);
    const all = openSse(`${baseUrl}/api/events`);
    await all.opened;

    const runIds: string[] = [];
    const perRun = new Map<string, SseClient>();
    for (let n = 0; n < RUNS; n++) {
      const started = await api('POST', `/api/flows/${created.body.id}/run`, { input: { n } });
      expect(started.status).toBe(202);
      runIds.push(started.body.runId);
      // Every fourth run also gets its own stream, opened while the run is already moving.
      if (n % 4 === 0) perRun.set(started.body.runId, openSse(`${baseUrl}/api/runs/${started.body.runId}/events`));
    }

    await eventually(async () => {
      const { body } = await api('GET', `/api/runs?flowId=${created.body.id}&status=completed&limit=200`);
      return body.runs.length === RUNS;
    }, 180_000);
    const sample = await api('GET', `/api/runs/${runIds[7]}`);
    expect(sample.body.output).toMatchObject({ n: 7, joined: 'A 7+B 7', waitedSeconds: 0 });

    // serve sees both worker processes as live queue runners.
    expect((await api('GET', '/api/health')).body.queue.liveRunners).toBe(2);
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    const { rows } = await client.query<StitchEvent & { run_id: string; instance_id: string | null }>(
      'SELECT id, run_id, instance_id, type FROM stitch_events WHERE run_id = ANY($1) ORDER BY id',
      [runIds],
    );
    await client.end();
    const expected = new Map<string, Array<{ id: number; instanceId: string | null; type: string }>>();
    for (const r of rows) {
      const list = expected.get(r.run_id) ?? [];
      list.push({ id: Number(r.id), instanceId: r.instance_id, type: r.type });
      expected.set(r.run_id, list);
    }

    const check = (received: StitchEvent[], runId: string) => {
      const want = expected.get(runId)!;
      const got = received.filter((e) => e.runId === runId);
      // None missing, none twice.
      expect(got.map((e) => e.id).sort((x, y) => x - y)).toEqual(want.map((e) => e.id));
      // Per node instance, in the order the transitions happened.
      const byInstance = (events: Array<{ instanceId: string | null; type: string }>) => {
        const map = new Map<string, string[]>();
        for (const e of events) map.set(e.instanceId ?? '(run)', [...(map.get(e.instanceId ?? '(run)') ?? []), e.type]);
        return map;
      };
      expect(byInstance(got)).toEqual(byInstance(want));
      expect(got[got.length - 1].type).toBe('run:completed');
    };

    await eventually(async () => all.events.length >= rows.length, 30_000);
    for (const runId of runIds) check(all.events, runId);
    for (const [runId, stream] of perRun) {
      await eventually(async () => stream.events.length >= expected.get(runId)!.length, 30_000);
      check(stream.events, runId);
    }
    expect(all.events.length).toBe(rows.length);
    all.close();
    for (const stream of perRun.values()) stream.close();
  }, 300_000);

  it('streamed output from a worker process reaches SSE clients of serve; one joining mid-stream gets the prefix', async () => {
    const graph = {
      nodes: [{ id: 'write', type: 'worker', position: { x: 0, y: 0 }, data: { workerType: 'claude', config: { prompt: 'About {{topic}}', mockStreamSeconds: 2 } } }],
      edges: [],
    };
    const created = await api('POST', '/api/flows', { name: 'scale-out-stream', graph });
    const started = await api('POST', `/api/flows/${created.body.id}/run`, { input: { topic: 'otters' } });
    const runId = started.body.runId as string;
    const text = (c: SseClient) =>
      c.events.filter((e) => (e as { type: string }).type === 'node:stream').flatMap((e) => (e as unknown as { parts: unknown[] }).parts).join('');
    const early = openSse(`${baseUrl}/api/runs/${runId}/events`);
    await eventually(async () => text(early).length > 0, 30_000);
    const late = openSse(`${baseUrl}/api/runs/${runId}/events`);
    await late.opened;
    const run = await eventually(async () => {
      const r = await api('GET', `/api/runs/${runId}`);
      return r.body.status === 'completed' && r.body;
    }, 60_000);
    const answer = run.nodes.write.output.text as string;
    await eventually(async () => text(early) === answer && text(late) === answer, 30_000);
    early.close();
    late.close();
  }, 120_000);

  it('SIGTERM stops serve and both workers gracefully (exit 0)', async () => {
    const codes = await Promise.all([serve, ...workers].map((p) => p.stop()));
    expect(codes).toEqual([0, 0, 0]);
  }, 60_000);
});

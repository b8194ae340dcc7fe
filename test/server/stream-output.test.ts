/**
 * Streamed partial output (`streamOutput`) over the run's SSE stream: in order, coalesced, never a
 * row per chunk; a client that joins mid-stream gets the prefix, then the rest; the stream route
 * for code outside Stitch checks its token before its body.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StreamMessage } from '@/types/stitch';
import { createFlow } from '@/lib/engine/flows';
import { startRun } from '@/lib/engine/start-run';
import { getRunWithNodes } from '@/lib/db/runs';
import { streamOutput, triggerCallback } from '@/lib/workers/utils';
import { createCallbackToken } from '@/lib/host/callback-tokens';
import { rememberSecrets } from '@/lib/vault/scrub';
import { eventually, graph, registerTestWorker, waitForRun } from '../helpers';
import { openSse, type SseClient } from './sse-client';
import { startTestServer, type TestServer } from './http';

let server: TestServer;

const SECRET = `streamed-${Math.random().toString(36).slice(2)}-secret`;

/** Gates the talker waits on between its bursts, by run id. */
const gates = new Map<string, { release: () => void; opened: Promise<void> }>();
function gate(runId: string) {
  let release!: () => void;
  const opened = new Promise<void>((r) => (release = r));
  gates.set(runId, { release, opened });
}

const CHUNKS = 500;
const burst = (prefix: string) => Array.from({ length: CHUNKS }, (_, i) => `${prefix}${i} `);

beforeAll(async () => {
  // Streams a burst of tokens, waits for the test, streams another burst and a JSON chunk, completes.
  registerTestWorker('talker', class {
    async execute(runId: string, nodeId: string, _config: unknown, input: { stream?: boolean }) {
      const text = [...burst('a'), ...burst('b')].join('');
      if (input.stream) for (const token of burst('a')) streamOutput(runId, nodeId, token);
      await gates.get(runId)?.opened;
      if (input.stream) {
        for (const token of burst('b')) streamOutput(runId, nodeId, token);
        streamOutput(runId, nodeId, { done: true });
      }
      await triggerCallback(runId, nodeId, { status: 'completed', output: { text } });
    }
  });
  // Streams a vault value cut in two chunks (one batch), then completes.
  registerTestWorker('leaky-streamer', class {
    async execute(runId: string, nodeId: string) {
      streamOutput(runId, nodeId, `key: ${SECRET.slice(0, 10)}`);
      streamOutput(runId, nodeId, `${SECRET.slice(10)} ok`);
      streamOutput(runId, nodeId, { quoted: SECRET });
      await triggerCallback(runId, nodeId, { status: 'completed', output: {} });
    }
  });
  server = await startTestServer();
});
afterAll(() => server?.close());

const streamed = (sse: SseClient) => sse.events.filter((e) => (e as { type: string }).type === 'node:stream') as unknown as StreamMessage[];
const textOf = (messages: StreamMessage[]) => messages.flatMap((m) => m.parts.filter((p): p is string => typeof p === 'string')).join('');

async function startTalker(stream: boolean) {
  const flow = await createFlow(`talker-${Math.random()}`, graph(['s:start', 'w:talker', 'e:end'], [['s', 'w'], ['w', 'e']]));
  const runId = (await startRun(flow.id, { input: { stream } })).runId;
  return runId;
}

describe('streamed output', () => {
  it('reaches SSE clients in order and coalesced, a late client gets the prefix first, and no row is written per chunk', async () => {
    const quiet = await startTalker(false);
    await waitForRun(quiet);

    // The run is created before the gate exists: the talker may reach it first, so the gate goes in quickly.
    const flow = await createFlow('talker-streaming', graph(['s:start', 'w:talker', 'e:end'], [['s', 'w'], ['w', 'e']]));
    const { runId } = await startRun(flow.id, { input: { stream: true } });
    gate(runId);
    const early = openSse(`${server.url}/api/runs/${runId}/events`);
    await early.opened;
    // The first burst is streamed (and held); the talker waits at its gate.
    await eventually(async () => textOf(streamed(early)).startsWith(burst('a').join('')) || undefined);

    // A client joining now gets the run's history, then the prefix.
    const late = openSse(`${server.url}/api/runs/${runId}/events`);
    await late.opened;
    await eventually(async () => textOf(streamed(late)) === burst('a').join('') || undefined);
    const firstStream = late.events.findIndex((e) => (e as { type: string }).type === 'node:stream');
    expect(late.events.slice(0, firstStream).map((e) => e.type)).toContain('run:created');

    gates.get(runId)!.release();
    const run = await waitForRun(runId);
    expect(run.status).toBe('completed');
    const whole = [...burst('a'), ...burst('b')].join('');
    for (const client of [early, late]) {
      await eventually(async () => streamed(client).some((m) => m.parts.some((p) => typeof p === 'object')) || undefined);
      const messages = streamed(client);
      expect(textOf(messages)).toBe(whole);
      // Parts numbered without a gap or a repeat, all of attempt 1 of node w.
      let next = 0;
      for (const m of messages) {
        expect(m).toMatchObject({ runId, instanceId: 'w', attempt: 1, seq: next });
        next += m.parts.length;
      }
      expect(messages[messages.length - 1].parts.at(-1)).toEqual({ done: true });
      // 1,001 calls, a handful of messages: each burst was queued at once and left together.
      expect(messages.length).toBeLessThan(20);
    }
    early.close();
    late.close();

    // The event log of the streaming run is the quiet run's, type by type: not a row per chunk.
    // (A sync node shown running — one that took over 150 ms, as the gated one did — has one node:running more.)
    const types = async (id: string) =>
      (await server.stitch.db.pool.query(`SELECT type FROM stitch_events WHERE run_id = $1 AND type <> 'node:running' ORDER BY id`, [id])).rows.map((r) => r.type).sort();
    expect(await types(runId)).toEqual(await types(quiet));
    expect((await getRunWithNodes(runId)).nodes.w.output).toEqual({ text: whole });
  });

  it('relays parts POSTed with a node attempt token, and refuses a missing or forged token before reading the body', async () => {
    const runId = await startTalker(false);
    gate(runId);
    await eventually(async () => ((await getRunWithNodes(runId)).nodes.w ? true : undefined));
    const sse = openSse(`${server.url}/api/runs/${runId}/events`);
    await sse.opened;
    const token = createCallbackToken(runId, 'w', 1, 600);
    const post = (path: string, body: unknown) => server.api('POST', path, body);

    expect((await post(`/api/stitch/stream/${runId}/w`, { seq: 0, parts: ['x'] })).status).toBe(401);
    const forged = await post(`/api/stitch/stream/${runId}/w?token=${createCallbackToken(runId, 'other', 1, 600)}`, 'not json');
    expect(forged.status).toBe(401);
    expect((await post(`/api/stitch/stream/${runId}/w?token=${token}`, { seq: -1, parts: ['x'] })).body.error.code).toBe('validation_failed');
    expect((await post(`/api/stitch/stream/${runId}/w?token=${token}`, { seq: 0, parts: ['x'.repeat(7000)] })).status).toBe(400);

    expect((await post(`/api/stitch/stream/${runId}/w?token=${token}`, { seq: 1, parts: ['world', { n: 2 }] })).status).toBe(200);
    expect((await post(`/api/stitch/stream/${runId}/w?token=${token}`, { seq: 0, parts: ['hello '] })).status).toBe(200);
    // Out of order on the wire, in order for the reader; a repeat changes nothing.
    expect((await post(`/api/stitch/stream/${runId}/w?token=${token}`, { seq: 0, parts: ['hello '] })).status).toBe(200);
    await eventually(async () => streamed(sse).reduce((n, m) => n + m.parts.length, 0) === 3 || undefined);
    expect(streamed(sse).flatMap((m) => m.parts)).toEqual(['hello ', 'world', { n: 2 }]);
    gates.get(runId)!.release();
    await waitForRun(runId);
    sse.close();
  });

  it('masks vault values in what is streamed, in process and posted from outside, as in any worker report', async () => {
    rememberSecrets([SECRET]);
    const flow = await createFlow(`leaky-${Math.random()}`, graph(['s:start', 'w:leaky-streamer'], [['s', 'w']]));
    const { runId } = await startRun(flow.id, { input: {} });
    const sse = openSse(`${server.url}/api/runs/${runId}/events`);
    await sse.opened;
    await waitForRun(runId);
    await eventually(async () => streamed(sse).some((m) => m.parts.some((p) => typeof p === 'object')) || undefined);

    const posted = await startTalker(false);
    gate(posted);
    await eventually(async () => ((await getRunWithNodes(posted)).nodes.w ? true : undefined));
    const other = openSse(`${server.url}/api/runs/${posted}/events`);
    await other.opened;
    const token = createCallbackToken(posted, 'w', 1, 600);
    expect((await server.api('POST', `/api/stitch/stream/${posted}/w?token=${token}`, { seq: 0, parts: [`from outside ${SECRET}`, { k: SECRET }] })).status).toBe(200);
    await eventually(async () => streamed(other).reduce((n, m) => n + m.parts.length, 0) === 2 || undefined);
    gates.get(posted)!.release();
    await waitForRun(posted);

    const wire = JSON.stringify([...streamed(sse), ...streamed(other)]);
    expect(wire).not.toContain(SECRET);
    expect(wire).not.toContain(SECRET.slice(10));
    expect(textOf(streamed(sse))).toBe('key: [redacted] ok');
    expect(streamed(other).flatMap((m) => m.parts)).toEqual(['from outside [redacted]', { k: '[redacted]' }]);
    sse.close();
    other.close();
  });
});

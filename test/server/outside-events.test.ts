/**
 * `event` nodes and `POST /api/events/:name`: an event after the wait, before it (kept and matched
 * when the node starts), two waiters on one key, a wrong key, a timeout, a restart while waiting,
 * and forged or unsigned events refused (with the API key, or signed with STITCH_EVENT_SECRET).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '@/lib/config';
import { getConfig } from '@/lib/config';
import { startStitch, type StitchInstance } from '@/lib/stitch';
import { startServer, type RunningServer } from '@/server/listen';
import { signBody } from '@/server/routes/webhooks';
import { getRunWithNodes } from '@/lib/db/runs';
import { createTestDatabase } from '../db';
import { eventually, graph, waitForRun } from '../helpers';

const KEY = 'events-api-key';
const SECRET = 'events-signing-secret';
let db: { url: string; drop: () => Promise<void> };
let config: Config;
let stitch: StitchInstance;
let server: RunningServer;

async function start() {
  stitch = await startStitch({ config, pollIntervalMs: 200 });
  server = await startServer(config);
}
async function stop() {
  await server.close();
  await stitch.stop();
}

async function api(method: string, path: string, body?: unknown, headers: Record<string, string> = { authorization: `Bearer ${KEY}` }) {
  const init: RequestInit = { method, headers: { ...headers } };
  if (body !== undefined) {
    init.body = typeof body === 'string' ? body : JSON.stringify(body);
    (init.headers as Record<string, string>)['content-type'] = 'application/json';
  }
  const response = await fetch(server.url + path, init);
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : undefined };
}

beforeAll(async () => {
  db = await createTestDatabase();
  config = getConfig({ STITCH_LOG_LEVEL: 'warn', STITCH_SECRET: 'test-secret-0123456789', STITCH_API_KEY: KEY, STITCH_EVENT_SECRET: SECRET, DATABASE_URL: db.url, PORT: '0' });
  await start();
});
afterAll(async () => {
  await stop();
  await db.drop();
});

const eventNode = (config: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({ id: 'pay', type: 'event', config: { event: 'payment.succeeded', match: '{{orderId}}', ...config }, ...extra });

async function flow(name: string, nodes: Parameters<typeof graph>[0], edges: Parameters<typeof graph>[1]) {
  const created = await api('POST', '/api/flows', { name: `${name}-${Math.random()}`, graph: graph(nodes, edges) });
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  return created.body.id as string;
}

async function run(flowId: string, input: unknown): Promise<string> {
  const started = await api('POST', `/api/flows/${flowId}/run`, { input });
  expect(started.status, JSON.stringify(started.body)).toBe(202);
  return started.body.runId;
}

/** The node is waiting: running, with its wait listed. */
async function waiting(runId: string, instanceId = 'pay') {
  await eventually(async () => (await getRunWithNodes(runId)).nodes[instanceId]?.status === 'running' || undefined);
}

const send = (key: string, payload: unknown, name = 'payment.succeeded') => api('POST', `/api/events/${name}`, { key, payload });

describe('event nodes', () => {
  it('an event after the wait completes the node with its payload; the wait is listed until then', async () => {
    const flowId = await flow('after', ['s:start', eventNode({}), 'e:end'], [['s', 'pay'], ['pay', 'e']]);
    const runId = await run(flowId, { orderId: 'o-after' });
    await waiting(runId);
    const listed = await api('GET', '/api/events/payment.succeeded/waiting?key=o-after');
    expect(listed.status).toBe(200);
    expect(listed.body).toMatchObject({ waiting: [{ runId, instanceId: 'pay', attempt: 1, key: 'o-after', deadlineAt: null }], nextCursor: null });

    const sent = await send('o-after', { amount: 42 });
    expect(sent).toMatchObject({ status: 200, body: { delivered: 1 } });
    const done = await waitForRun(runId);
    expect(done.status).toBe('completed');
    expect(done.nodes.pay.output).toEqual({ amount: 42 });
    expect(done.nodes.pay.metadata).toMatchObject({ event: { name: 'payment.succeeded', key: 'o-after' } });
    expect((await api('GET', '/api/events/payment.succeeded/waiting?key=o-after')).body.waiting).toEqual([]);
  });

  it('an event that arrives before its node waits is kept and matched when the node starts; one from before the run is not', async () => {
    await send('o-before', { stale: true });
    const flowId = await flow('before', ['s:start', { id: 'gate', type: 'ux' }, eventNode({}), 'e:end'], [['s', 'gate'], ['gate', 'pay'], ['pay', 'e']]);
    const runId = await run(flowId, { orderId: 'o-before' });
    await eventually(async () => (await getRunWithNodes(runId)).nodes.gate?.status === 'waiting_for_user' || undefined);
    expect(await send('o-before', { fresh: true })).toMatchObject({ status: 200, body: { delivered: 0 } });
    expect((await api('POST', `/api/stitch/complete/${runId}/gate`, {})).status).toBe(200);
    const done = await waitForRun(runId);
    expect(done.status).toBe('completed');
    expect(done.nodes.pay.output).toEqual({ fresh: true });
  });

  it('one event completes two waiters on its key; a wrong key completes none', async () => {
    const flowId = await flow('two', ['s:start', eventNode({}), 'e:end'], [['s', 'pay'], ['pay', 'e']]);
    const a = await run(flowId, { orderId: 'o-shared' });
    const b = await run(flowId, { orderId: 'o-shared' });
    const other = await run(flowId, { orderId: 'o-other' });
    await Promise.all([waiting(a), waiting(b), waiting(other)]);
    // Listed a page at a time.
    const first = await api('GET', '/api/events/payment.succeeded/waiting?key=o-shared&limit=1');
    expect(first.body.waiting).toHaveLength(1);
    const second = await api('GET', `/api/events/payment.succeeded/waiting?key=o-shared&limit=1&cursor=${first.body.nextCursor}`);
    expect(second.body).toMatchObject({ waiting: [{ key: 'o-shared' }], nextCursor: null });
    expect([first.body.waiting[0].runId, second.body.waiting[0].runId].sort()).toEqual([a, b].sort());
    expect((await api('GET', '/api/events/payment.succeeded/waiting?cursor=nonsense')).status).toBe(400);
    expect(await send('o-wrong', 1)).toMatchObject({ status: 200, body: { delivered: 0 } });
    expect(await send('o-shared', { ok: 1 })).toMatchObject({ status: 200, body: { delivered: 2 } });
    for (const id of [a, b]) expect((await waitForRun(id)).nodes.pay.output).toEqual({ ok: 1 });
    // The wrong key and the shared one left the third run waiting.
    const still = await getRunWithNodes(other);
    expect(still.nodes.pay.status).toBe('running');
    expect((await api('GET', '/api/events/payment.succeeded/waiting?key=o-other')).body.waiting).toHaveLength(1);
    expect((await api('POST', `/api/runs/${other}/cancel`)).status).toBe(200);
    await waitForRun(other);
    expect((await api('GET', '/api/events/payment.succeeded/waiting?key=o-other')).body.waiting).toEqual([]);
    expect(await send('o-other', 1)).toMatchObject({ status: 200, body: { delivered: 0 } });
  });

  it('past its timeout the node fails (and continueOnError carries on)', async () => {
    const failing = await flow('timeout', ['s:start', eventNode({ timeoutSeconds: 0.5 }), 'e:end'], [['s', 'pay'], ['pay', 'e']]);
    const r1 = await run(failing, { orderId: 'o-late' });
    const failed = await waitForRun(r1);
    expect(failed.status).toBe('failed');
    expect(failed.nodes.pay.error).toMatch(/No "payment.succeeded" event .* within 0.5s/);
    expect(await send('o-late', 1)).toMatchObject({ status: 200, body: { delivered: 0 } });

    const tolerant = await flow('timeout-ok', ['s:start', eventNode({ timeoutSeconds: 0.5 }, { continueOnError: true }), 'e:end'], [['s', 'pay'], ['pay', 'e']]);
    const r2 = await run(tolerant, { orderId: 'o-late-2' });
    const carried = await waitForRun(r2);
    expect(carried.status).toBe('completed');
    expect(carried.nodes.e.status).toBe('completed');
  });

  it('a wait survives a restart: the event sent afterwards completes it', async () => {
    const flowId = await flow('restart', ['s:start', eventNode({}), 'e:end'], [['s', 'pay'], ['pay', 'e']]);
    const runId = await run(flowId, { orderId: 'o-restart' });
    await waiting(runId);
    await stop();
    await start();
    expect(await send('o-restart', { after: 'restart' })).toMatchObject({ status: 200, body: { delivered: 1 } });
    expect((await waitForRun(runId)).nodes.pay.output).toEqual({ after: 'restart' });
  });

  it('refuses events without the key or a valid signature, and bad names and bodies, changing nothing', async () => {
    const flowId = await flow('forged', ['s:start', eventNode({}), 'e:end'], [['s', 'pay'], ['pay', 'e']]);
    const runId = await run(flowId, { orderId: 'o-forged' });
    await waiting(runId);
    const body = JSON.stringify({ key: 'o-forged', payload: { forged: true } });
    expect((await api('POST', '/api/events/payment.succeeded', body, {})).status).toBe(401);
    expect((await api('POST', '/api/events/payment.succeeded', body, { authorization: 'Bearer wrong' })).status).toBe(401);
    expect((await api('POST', '/api/events/payment.succeeded', body, { 'x-stitch-signature': signBody('not-the-secret', body) })).status).toBe(401);
    expect((await api('POST', '/api/events/payment.succeeded', body, { 'x-stitch-signature': 'sha256=zz' })).status).toBe(401);
    // Signed for another body.
    expect((await api('POST', '/api/events/payment.succeeded', body, { 'x-stitch-signature': signBody(SECRET, body.replace('true', 'false')) })).status).toBe(401);
    expect((await api('POST', '/api/events/bad%20name', { key: 'x' })).status).toBe(400);
    expect((await api('POST', '/api/events/payment.succeeded', { key: '' })).status).toBe(400);
    expect((await api('POST', '/api/events/payment.succeeded', { payload: 1 })).status).toBe(400);
    expect((await getRunWithNodes(runId)).nodes.pay.status).toBe('running');

    const signed = JSON.stringify({ key: 'o-forged', payload: { signed: true } });
    const ok = await api('POST', '/api/events/payment.succeeded', signed, { 'x-stitch-signature': signBody(SECRET, signed) });
    expect(ok).toMatchObject({ status: 200, body: { delivered: 1 } });
    expect((await waitForRun(runId)).nodes.pay.output).toEqual({ signed: true });
  });

  it('refuses an event node without an event name or a match at save', async () => {
    const bad = await api('POST', '/api/flows', { name: `bad-${Math.random()}`, graph: graph(['s:start', { id: 'pay', type: 'event', config: { event: 'a b' } }], [['s', 'pay']]) });
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.body)).toMatch(/config.event/);
    expect(JSON.stringify(bad.body)).toMatch(/config.match/);
  });
});

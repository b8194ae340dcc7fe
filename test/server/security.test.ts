/**
 * Security: callback tokens (forged, missing, for another node or run, expired, for an old
 * attempt), the API key, webhook signatures, and the loopback-only rule without a key.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getConfig } from '@/lib/config';
import { getPool } from '@/lib/db/pool';
import { createCallbackToken } from '@/lib/host/callback-tokens';
import { bindAddress, startServer, type RunningServer } from '@/server/listen';
import { signBody } from '@/server/routes/webhooks';
import { graph, eventually, waitForRun } from '../helpers';
import { startTestServer, type TestServer } from './http';
import { callbackPath, oneWorkerGraph, registerHttpTestWorkers } from './test-workers';

let t: TestServer;

beforeAll(async () => {
  registerHttpTestWorkers();
  t = await startTestServer();
});
afterAll(() => t?.close());

/** Everything a rejected request must leave untouched. */
async function stateOf(runId: string) {
  const { rows } = await getPool().query(
    `SELECT (SELECT jsonb_agg(to_jsonb(n) ORDER BY instance_id) FROM stitch_node_runs n WHERE run_id = $1) AS nodes,
            (SELECT status FROM stitch_runs WHERE id = $1) AS status,
            (SELECT count(*) FROM stitch_events WHERE run_id = $1)::int AS events`,
    [runId],
  );
  return rows[0];
}

/** A run of start → (w, w2: async vendors in parallel) → end, with both waiting for callbacks. */
async function twoVendorRun(): Promise<string> {
  const g = graph(['s:start', 'w:vendor', 'w2:vendor', 'e:end'], [['s', 'w'], ['s', 'w2'], ['w', 'e'], ['w2', 'e']]);
  const flow = await t.api('POST', '/api/flows', { name: `two-${Math.random()}`, graph: g });
  const { body } = await t.api('POST', `/api/flows/${flow.body.id}/run`, { input: { n: 1 } });
  await eventually(async () => {
    const run = await t.api('GET', `/api/runs/${body.runId}`);
    return run.body.nodes.w?.status === 'running' && run.body.nodes.w2?.status === 'running';
  });
  await eventually(async () => {
    try {
      return Boolean(callbackPath(body.runId, 'w') && callbackPath(body.runId, 'w2'));
    } catch {
      return false;
    }
  });
  return body.runId;
}

describe('callback tokens', () => {
  it('forged, missing, other-node, other-run and expired tokens → 401 and nothing changes', async () => {
    const runId = await twoVendorRun();
    const otherRun = await twoVendorRun();
    const before = await stateOf(runId);
    const good = new URL(`http://x${callbackPath(runId, 'w')}`).searchParams.get('token') as string;
    const [attempt, expiry] = good.split('.');
    const done = { status: 'completed', output: { stolen: true } };
    const attempts: Array<[string, string]> = [
      ['missing', `/api/stitch/callback/${runId}/w`],
      ['empty', `/api/stitch/callback/${runId}/w?token=`],
      ['garbage', `/api/stitch/callback/${runId}/w?token=hello`],
      ['forged signature', `/api/stitch/callback/${runId}/w?token=${attempt}.${expiry}.${'A'.repeat(43)}`],
      ['raised attempt', `/api/stitch/callback/${runId}/w?token=${Number(attempt) + 1}.${expiry}.${good.split('.')[2]}`],
      ['extended expiry', `/api/stitch/callback/${runId}/w?token=${attempt}.${Number(expiry) + 1}.${good.split('.')[2]}`],
      ['replayed for another node', `/api/stitch/callback/${runId}/w2?token=${good}`],
      ['replayed for another run', `/api/stitch/callback/${otherRun}/w?token=${good}`],
      ['expired', `/api/stitch/callback/${runId}/w?token=${createCallbackToken(runId, 'w', 1, -5)}`],
      ['signed with another secret', `/api/stitch/callback/${runId}/w?token=${attempt}.${expiry}.${'x'.repeat(43)}`],
    ];
    for (const [label, path] of attempts) {
      const res = await t.api('POST', path, done);
      expect(res.status, label).toBe(401);
      expect(res.body.error.code, label).toBe('unauthorized');
    }
    expect(await stateOf(runId)).toEqual(before);
    // The real token still works afterwards.
    expect((await t.api('POST', callbackPath(runId, 'w'), done)).status).toBe(200);
  });

  it("a token of an earlier attempt → 409 and nothing changes", async () => {
    const flow = await t.api('POST', '/api/flows', { name: 'attempts', graph: oneWorkerGraph('vendor') });
    const { body } = await t.api('POST', `/api/flows/${flow.body.id}/run`, {});
    await eventually(async () => (await t.api('GET', `/api/runs/${body.runId}`)).body.nodes.w?.status === 'running');
    await eventually(async () => {
      try {
        return callbackPath(body.runId, 'w');
      } catch {
        return false;
      }
    });
    const firstAttempt = callbackPath(body.runId, 'w');
    expect((await t.api('POST', firstAttempt, { status: 'failed', error: 'try again' })).status).toBe(200);
    expect((await waitForRun(body.runId)).status).toBe('failed');
    expect((await t.api('POST', `/api/stitch/retry/${body.runId}/w`)).body).toEqual({ ok: true, attempt: 2 });
    await eventually(async () => callbackPath(body.runId, 'w') !== firstAttempt && (await t.api('GET', `/api/runs/${body.runId}`)).body.nodes.w.status === 'running');
    const before = await stateOf(body.runId);
    const replay = await t.api('POST', firstAttempt, { status: 'completed', output: { late: true } });
    expect(replay.status).toBe(409);
    expect(replay.body.error.code).toBe('conflict');
    expect(await stateOf(body.runId)).toEqual(before);
  });
});

describe('API key', () => {
  let keyed: RunningServer;
  const key = 'test-api-key-0123456789';
  const call = (path: string, init: RequestInit = {}) => fetch(keyed.url + path, init);

  beforeAll(async () => {
    keyed = await startServer(getConfig({ DATABASE_URL: t.stitch.url, STITCH_API_KEY: key, PORT: '0', STITCH_LOG_LEVEL: 'warn' }));
  });
  afterAll(() => keyed?.close());

  it('management routes answer 401 without the key or with a wrong one, 200 with it', async () => {
    const routes: Array<[string, string]> = [
      ['GET', '/api/flows'],
      ['POST', '/api/flows'],
      ['GET', '/api/runs'],
      ['GET', '/api/workers'],
      ['GET', '/metrics'],
      ['POST', '/api/runs/00000000-0000-4000-8000-000000000000/cancel'],
      ['POST', '/api/stitch/retry/00000000-0000-4000-8000-000000000000/a'],
      ['POST', '/api/stitch/complete/00000000-0000-4000-8000-000000000000/a'],
      ['GET', '/api/events'],
    ];
    for (const [method, path] of routes) {
      for (const authorization of [undefined, 'Bearer wrong', `Basic ${key}`, 'Bearer ', `Bearer ${key}x`]) {
        const res = await call(path, { method, headers: authorization ? { authorization } : {} });
        expect(res.status, `${method} ${path} with ${authorization}`).toBe(401);
        expect((await res.json()).error.code).toBe('unauthorized');
      }
    }
    const ok = await call('/api/flows', { headers: { authorization: `Bearer ${key}` } });
    expect(ok.status).toBe(200);
    const created = await call('/api/flows', {
      method: 'POST',
      headers: { authorization: `bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'keyed', graph: oneWorkerGraph('echo') }),
    });
    expect(created.status).toBe(201);
  });

  it('health, callbacks (token), webhooks (signature), docs and the canvas need no key', async () => {
    expect((await call('/api/health')).status).toBe(200);
    expect((await call('/api/openapi.json')).status).toBe(200);
    expect((await call('/')).status).toBe(200);
    const callback = await call('/api/stitch/callback/00000000-0000-4000-8000-000000000000/w', { method: 'POST', body: '{}' });
    expect(callback.status).toBe(401);
    expect((await callback.json()).error.message).toMatch(/token/);
    expect((await call('/api/webhooks/no-such-hook', { method: 'POST', body: '{}' })).status).toBe(404);
  });

  it('event streams accept ?api_key= (EventSource cannot send headers); other routes do not', async () => {
    expect((await call(`/api/flows?api_key=${key}`)).status).toBe(401);
    const controller = new AbortController();
    const res = await call(`/api/events?api_key=${key}`, { signal: controller.signal });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/text\/event-stream/);
    controller.abort();
    expect((await call('/api/events?api_key=wrong')).status).toBe(401);
  });
});

describe('webhooks', () => {
  async function newTrigger() {
    const flow = await t.api('POST', '/api/flows', { name: `hooked-${Math.random()}`, graph: oneWorkerGraph('echo') });
    const trigger = await t.api('POST', `/api/flows/${flow.body.id}/triggers`, {});
    expect(trigger.status).toBe(201);
    return { flowId: flow.body.id as string, ...(trigger.body as { id: string; slug: string; secret: string; url: string }) };
  }
  const runsOf = async (flowId: string) => (await t.api('GET', `/api/runs?flowId=${flowId}&limit=200`)).body.runs as Array<{ id: string; trigger: any }>;
  const deliver = (slug: string, body: string, headers: Record<string, string>) => t.api('POST', `/api/webhooks/${slug}`, body, headers);

  it('a correctly signed delivery starts a run with the body as input', async () => {
    const hook = await newTrigger();
    expect(hook.secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(hook.url).toMatch(new RegExp(`/api/webhooks/${hook.slug}$`));
    const body = JSON.stringify({ topic: 'otters' });
    const res = await deliver(hook.slug, body, { 'x-stitch-signature': signBody(hook.secret, body) });
    expect(res.status).toBe(202);
    const run = await waitForRun(res.body.runId);
    expect(run.status).toBe('completed');
    expect(run.input).toEqual({ topic: 'otters' });
    expect(run.trigger).toMatchObject({ type: 'webhook', slug: hook.slug });
    // GitHub's header name works too.
    const gh = await deliver(hook.slug, body, { 'x-hub-signature-256': signBody(hook.secret, body) });
    expect(gh.status).toBe(202);
  });

  it('bad, missing or other-secret signatures → 401 and no run', async () => {
    const hook = await newTrigger();
    const other = await newTrigger();
    const body = JSON.stringify({ topic: 'otters' });
    const tries: Record<string, string>[] = [
      {},
      { 'x-stitch-signature': 'sha256=' + '0'.repeat(64) },
      { 'x-stitch-signature': signBody(other.secret, body) },
      { 'x-stitch-signature': signBody(hook.secret, body + ' ') },
      { 'x-stitch-signature': signBody(hook.secret, body).replace('sha256=', 'sha1=') },
      { 'x-stitch-signature': 'sha256=zz' },
    ];
    for (const headers of tries) {
      const res = await deliver(hook.slug, body, headers);
      expect(res.status, JSON.stringify(headers)).toBe(401);
    }
    expect(await runsOf(hook.flowId)).toEqual([]);
  });

  it('a trigger without a secret refuses everything; unknown and deleted slugs are 404', async () => {
    const hook = await newTrigger();
    await getPool().query('UPDATE stitch_triggers SET secret = NULL WHERE id = $1', [hook.id]);
    const body = '{}';
    const refused = await deliver(hook.slug, body, { 'x-stitch-signature': signBody(hook.secret, body) });
    expect(refused.status).toBe(403);
    expect(refused.body.error.code).toBe('forbidden');
    expect(await runsOf(hook.flowId)).toEqual([]);
    expect((await deliver('no-such-slug', body, {})).status).toBe(404);

    const live = await newTrigger();
    const listed = await t.api('GET', `/api/flows/${live.flowId}/triggers`);
    expect(listed.body.triggers).toEqual([expect.objectContaining({ id: live.id, slug: live.slug })]);
    expect(JSON.stringify(listed.body)).not.toContain(live.secret);
    expect((await t.api('DELETE', `/api/flows/${live.flowId}/triggers/${live.id}`)).body).toEqual({ ok: true });
    expect((await deliver(live.slug, body, { 'x-stitch-signature': signBody(live.secret, body) })).status).toBe(404);
    expect((await t.api('DELETE', `/api/flows/${live.flowId}/triggers/${live.id}`)).status).toBe(404);
  });

  it('delivery ids that differ only after 200 characters are two deliveries; a repeat of a long one is one (issue 10 B.13)', async () => {
    const hook = await newTrigger();
    const body = JSON.stringify({ n: 2 });
    const prefix = 'd'.repeat(200);
    const send = (id: string) => deliver(hook.slug, body, { 'x-stitch-signature': signBody(hook.secret, body), 'x-stitch-delivery': id });
    const a = await send(`${prefix}-a`);
    const b = await send(`${prefix}-b`);
    expect(a.status).toBe(202);
    expect(b.status).toBe(202);
    expect(b.body.runId).not.toBe(a.body.runId);
    const again = await send(`${prefix}-a`);
    expect(again.status).toBe(200);
    expect(again.body).toEqual({ runId: a.body.runId, duplicate: true });
    expect(await runsOf(hook.flowId)).toHaveLength(2);
  });

  it('a repeated delivery id starts no second run; a taken slug is 409; bad JSON is 400', async () => {
    const hook = await newTrigger();
    const body = JSON.stringify({ n: 1 });
    const headers = { 'x-stitch-signature': signBody(hook.secret, body), 'x-stitch-delivery': 'delivery-1' };
    const first = await deliver(hook.slug, body, headers);
    expect(first.status).toBe(202);
    const again = await deliver(hook.slug, body, headers);
    expect(again.status).toBe(200);
    expect(again.body).toEqual({ runId: first.body.runId, duplicate: true });
    expect(await runsOf(hook.flowId)).toHaveLength(1);

    const taken = await t.api('POST', `/api/flows/${hook.flowId}/triggers`, { slug: hook.slug });
    expect(taken.status).toBe(409);
    expect((await t.api('POST', `/api/flows/${hook.flowId}/triggers`, { slug: 'a/b' })).status).toBe(400);
    const named = await t.api('POST', `/api/flows/${hook.flowId}/triggers`, { slug: 'my-hook' });
    expect(named.body.slug).toBe('my-hook');

    const notJson = 'not json';
    const bad = await deliver(hook.slug, notJson, { 'x-stitch-signature': signBody(hook.secret, notJson) });
    expect(bad.status).toBe(400);
    expect(await runsOf(hook.flowId)).toHaveLength(1);
  });
});

describe('binding without a key', () => {
  it('loopback only; a public HOST without STITCH_API_KEY is refused, with a key it is allowed', () => {
    expect(bindAddress(getConfig({}))).toBe('127.0.0.1');
    expect(bindAddress(getConfig({ HOST: 'localhost' }))).toBe('127.0.0.1');
    expect(() => bindAddress(getConfig({ HOST: '0.0.0.0' }))).toThrow(/STITCH_API_KEY/);
    expect(() => bindAddress(getConfig({ HOST: '::' }))).toThrow(/STITCH_API_KEY/);
    expect(() => bindAddress(getConfig({ HOST: '10.1.2.3' }))).toThrow(/STITCH_API_KEY/);
    expect(bindAddress(getConfig({ HOST: '0.0.0.0', STITCH_API_KEY: 'k' }))).toBe('0.0.0.0');
  });
});

/**
 * Contract of every HTTP route, over real HTTP on loopback: status codes, body shapes and each
 * listed error code. (Authentication, callback-token forgery and webhook signatures: security.test.ts.)
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCallbackToken } from '@/lib/host/callback-tokens';
import { graph, eventually, waitForRun } from '../helpers';
import { startTestServer, type TestServer } from './http';
import { callbackPath, oneWorkerGraph, registerHttpTestWorkers } from './test-workers';

let t: TestServer;
const echoGraph = () => graph(['s:start', 'a:echo', 'e:end'], [['s', 'a'], ['a', 'e']]);
const missing = '00000000-0000-4000-8000-000000000000';

beforeAll(async () => {
  registerHttpTestWorkers();
  t = await startTestServer();
});
afterAll(() => t?.close());

async function newFlow(name: string, g: unknown = echoGraph()): Promise<string> {
  const res = await t.api('POST', '/api/flows', { name, graph: g });
  expect(res.status).toBe(201);
  return res.body.id;
}

async function startVendorRun(workerType = 'vendor'): Promise<string> {
  const flowId = await newFlow(`${workerType}-${Math.random()}`, oneWorkerGraph(workerType));
  const { body } = await t.api('POST', `/api/flows/${flowId}/run`, { input: { topic: 'otters' } });
  await eventually(async () => (await t.api('GET', `/api/runs/${body.runId}`)).body.nodes.w?.status === 'running' && callbackPathOrNull(body.runId));
  return body.runId;
}

function callbackPathOrNull(runId: string): string | false {
  try {
    return callbackPath(runId, 'w');
  } catch {
    return false;
  }
}

function expectError(res: { status: number; body: any }, status: number, code: string) {
  expect(res.status).toBe(status);
  expect(res.body).toMatchObject({ error: { code, message: expect.any(String) } });
  expect(JSON.stringify(res.body)).not.toMatch(/\n\s+at |node_modules/);
}

describe('flows', () => {
  it('POST /api/flows → 201 {id, versionId}; GET, PUT (new version), versions, DELETE', async () => {
    const created = await t.api('POST', '/api/flows', { name: 'crud', graph: echoGraph() });
    expect(created.status).toBe(201);
    expect(created.body).toEqual({ id: expect.any(String), versionId: expect.any(String), warnings: [] });
    const id = created.body.id;

    const list = await t.api('GET', '/api/flows');
    expect(list.status).toBe(200);
    expect(list.body.flows.map((f: { id: string }) => f.id)).toContain(id);

    const one = await t.api('GET', `/api/flows/${id}`);
    expect(one.status).toBe(200);
    expect(one.body).toMatchObject({ id, name: 'crud', version: 1, currentVersionId: created.body.versionId });
    expect(one.body.graph.nodes).toHaveLength(3);

    // The same graph again (keys in another order): no new version, a rename still applies (issue 25.5).
    const reordered = JSON.parse(JSON.stringify(echoGraph(), (_k, v) => (v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).reverse()) : v)));
    const same = await t.api('PUT', `/api/flows/${id}`, { graph: reordered, name: 'crud renamed' });
    expect(same.status).toBe(200);
    expect(same.body).toEqual({ id, versionId: created.body.versionId, version: 1, unchanged: true, warnings: [] });
    expect((await t.api('GET', `/api/flows/${id}`)).body).toMatchObject({ name: 'crud renamed', version: 1 });

    const moved = echoGraph();
    moved.nodes[1].position = { x: 999, y: 5 }; // a moved node is a change: the layout is part of the version
    const updated = await t.api('PUT', `/api/flows/${id}`, { graph: moved });
    expect(updated.status).toBe(200);
    expect(updated.body).toMatchObject({ id, version: 2, unchanged: false });

    const versions = await t.api('GET', `/api/flows/${id}/versions`);
    expect(versions.body.versions.map((v: { version: number }) => v.version)).toEqual([2, 1]);
    const v1 = await t.api('GET', `/api/flows/${id}/versions/${created.body.versionId}`);
    expect(v1.status).toBe(200);
    expect(v1.body).toMatchObject({ id: created.body.versionId, flowId: id, version: 1 });
    expect(v1.body.executionGraph.entryNodes).toEqual(['s']);

    expect((await t.api('DELETE', `/api/flows/${id}`)).body).toEqual({ ok: true });
    expectError(await t.api('GET', `/api/flows/${id}`), 404, 'not_found');
    expectError(await t.api('DELETE', `/api/flows/${id}`), 404, 'not_found');
  });

  it('400 with the full validation list for an invalid graph', async () => {
    const bad = graph(['s:start', 'a:nosuchworker', 'b:echo'], [['s', 'a'], ['a', 'b'], ['b', 'a']]);
    const res = await t.api('POST', '/api/flows', { name: 'bad', graph: bad });
    expectError(res, 400, 'validation_failed');
    const codes = res.body.error.details.map((d: { code: string }) => d.code);
    expect(codes.length).toBeGreaterThanOrEqual(2);
    expect(res.body.error.details[0]).toMatchObject({ code: expect.any(String), message: expect.any(String) });
  });

  it('400 for a body that is not the documented shape, or not JSON', async () => {
    expectError(await t.api('POST', '/api/flows', { graph: echoGraph() }), 400, 'validation_failed');
    expectError(await t.api('POST', '/api/flows', { name: '', graph: echoGraph() }), 400, 'validation_failed');
    expectError(await t.api('POST', '/api/flows', { name: 'x', graph: { nodes: 'no' } }), 400, 'validation_failed');
    expectError(await t.api('POST', '/api/flows', '{"name": "x", '), 400, 'bad_request');
    expectError(await t.api('PUT', `/api/flows/${missing}`, { graph: echoGraph() }), 404, 'not_found');
    const id = await newFlow('put-bad');
    expectError(await t.api('PUT', `/api/flows/${id}`, { graph: graph(['a:nosuch'], []) }), 400, 'validation_failed');
  });

  it('404 for unknown flows and versions, including a version of another flow', async () => {
    expectError(await t.api('GET', `/api/flows/${missing}`), 404, 'not_found');
    expectError(await t.api('GET', '/api/flows/not-a-uuid'), 404, 'not_found');
    expectError(await t.api('GET', `/api/flows/${missing}/versions`), 404, 'not_found');
    const a = await t.api('POST', '/api/flows', { name: 'va', graph: echoGraph() });
    const b = await newFlow('vb');
    expectError(await t.api('GET', `/api/flows/${b}/versions/${a.body.versionId}`), 404, 'not_found');
    expectError(await t.api('GET', `/api/flows/${b}/versions/${missing}`), 404, 'not_found');
  });

  it('413 beyond the body limit', async () => {
    const huge = { name: 'huge', graph: { nodes: [], edges: [], pad: 'x'.repeat(1024 * 1024 + 10) } };
    expectError(await t.api('POST', '/api/flows', huge), 413, 'payload_too_large');
  });
});

describe('runs', () => {
  it('POST /api/flows/:id/run and /api/canvas/:id/run → 202; GET /api/runs/:id and /api/stitch/status/:id', async () => {
    const flowId = await newFlow('runner');
    for (const path of [`/api/flows/${flowId}/run`, `/api/canvas/${flowId}/run`]) {
      const res = await t.api('POST', path, { input: { topic: 'otters' } });
      expect(res.status).toBe(202);
      expect(res.body).toMatchObject({ runId: expect.any(String), versionId: expect.any(String), status: 'running' });
      expect(res.body.statusUrl).toMatch(new RegExp(`/api/runs/${res.body.runId}$`));
      await waitForRun(res.body.runId);
      const run = await t.api('GET', `/api/runs/${res.body.runId}`);
      expect(run.status).toBe(200);
      expect(run.body).toMatchObject({
        id: res.body.runId,
        flowId,
        versionId: res.body.versionId,
        status: 'completed',
        input: { topic: 'otters' },
        output: { topic: 'otters', echoed: true },
        error: null,
        createdAt: expect.any(String),
        finishedAt: expect.any(String),
      });
      expect(run.body.nodes.a).toMatchObject({ nodeId: 'a', status: 'completed', attempt: 1, output: { echoed: true } });
      for (const key of ['input', 'output', 'error', 'progress', 'startedAt', 'finishedAt']) expect(run.body.nodes.a).toHaveProperty(key);
      const status = await t.api('GET', `/api/stitch/status/${res.body.runId}`);
      expect(status.body).toEqual(run.body);
      // The flows list shows each flow's last run.
      const flows = await t.api('GET', '/api/flows');
      expect(flows.body.flows.find((f: { id: string }) => f.id === flowId).lastRun).toEqual({
        id: res.body.runId,
        status: 'completed',
        createdAt: run.body.createdAt,
        costUsd: 0,
      });
    }
    // No body at all is a run with empty input.
    const bare = await t.api('POST', `/api/flows/${flowId}/run`);
    expect(bare.status).toBe(202);
  });

  it('404 for an unknown flow or run; 400 for a malformed run body', async () => {
    expectError(await t.api('POST', `/api/flows/${missing}/run`, {}), 404, 'not_found');
    expectError(await t.api('POST', `/api/canvas/${missing}/run`, {}), 404, 'not_found');
    expectError(await t.api('GET', `/api/runs/${missing}`), 404, 'not_found');
    expectError(await t.api('GET', `/api/stitch/status/${missing}`), 404, 'not_found');
    const flowId = await newFlow('bad-run-body');
    expectError(await t.api('POST', `/api/flows/${flowId}/run`, '{nope'), 400, 'bad_request');
    expectError(await t.api('POST', `/api/flows/${flowId}/run`, '[1,2]'), 400, 'validation_failed');
  });

  it('GET /api/runs pages through every run exactly once, newest first, with filters', async () => {
    const flowId = await newFlow('pages');
    const started: string[] = [];
    for (let i = 0; i < 5; i++) started.push((await t.api('POST', `/api/flows/${flowId}/run`, { input: { i } })).body.runId);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const res: { status: number; body: any } = await t.api('GET', `/api/runs?flowId=${flowId}&limit=2${cursor ? `&cursor=${cursor}` : ''}`);
      expect(res.status).toBe(200);
      expect(res.body.runs.length).toBeLessThanOrEqual(2);
      seen.push(...res.body.runs.map((r: { id: string }) => r.id));
      cursor = res.body.nextCursor;
    } while (cursor);
    expect(seen).toEqual([...started].reverse());
    await Promise.all(started.map((id) => waitForRun(id)));
    const completed = await t.api('GET', `/api/runs?flowId=${flowId}&status=completed&limit=200`);
    expect(completed.body.runs).toHaveLength(5);
    expect((await t.api('GET', `/api/runs?flowId=${flowId}&status=failed`)).body.runs).toEqual([]);
  });

  it('400 for bad run-list queries', async () => {
    expectError(await t.api('GET', '/api/runs?status=sideways'), 400, 'validation_failed');
    expectError(await t.api('GET', '/api/runs?limit=0'), 400, 'validation_failed');
    expectError(await t.api('GET', '/api/runs?limit=abc'), 400, 'validation_failed');
    expectError(await t.api('GET', '/api/runs?flowId=nope'), 400, 'validation_failed');
    expectError(await t.api('GET', '/api/runs?cursor=garbage'), 400, 'validation_failed');
  });

  it('POST /api/runs/:id/cancel → 200, then 409; 404 for an unknown run', async () => {
    const runId = await startVendorRun();
    expect((await t.api('POST', `/api/runs/${runId}/cancel`)).body).toEqual({ ok: true });
    const run = await t.api('GET', `/api/runs/${runId}`);
    expect(run.body.status).toBe('cancelled');
    expect(run.body.nodes.w.status).toBe('cancelled');
    expectError(await t.api('POST', `/api/runs/${runId}/cancel`), 409, 'conflict');
    expectError(await t.api('POST', `/api/runs/${missing}/cancel`), 404, 'not_found');
  });

  it('POST /api/stitch/retry/:runId/:nodeId → 200 for a failed node, 409 otherwise, 404 when unknown', async () => {
    const flowId = await newFlow('retry', oneWorkerGraph('boom'));
    const { body } = await t.api('POST', `/api/flows/${flowId}/run`, {});
    expect((await waitForRun(body.runId)).status).toBe('failed');
    const retried = await t.api('POST', `/api/stitch/retry/${body.runId}/w`);
    expect(retried.status).toBe(200);
    expect(retried.body).toEqual({ ok: true, attempt: 2 });
    await eventually(async () => (await t.api('GET', `/api/runs/${body.runId}`)).body.nodes.w.attempt === 2);
    expect((await waitForRun(body.runId)).status).toBe('failed');
    expectError(await t.api('POST', `/api/stitch/retry/${body.runId}/s`), 409, 'conflict');
    expectError(await t.api('POST', `/api/stitch/retry/${body.runId}/nope`), 404, 'not_found');
    expectError(await t.api('POST', `/api/stitch/retry/${missing}/w`), 404, 'not_found');
  });

  it('POST /api/stitch/complete/:runId/:nodeId answers a waiting UX gate; 400, 404 and 409 otherwise', async () => {
    const g = graph(['s:start', { id: 'gate', type: 'ux', config: { prompt: 'Approve?' } }, 'e:end'], [['s', 'gate'], ['gate', 'e']]);
    const flowId = await newFlow('gate', g);
    const { body } = await t.api('POST', `/api/flows/${flowId}/run`, { input: { draft: 'v1' } });
    await eventually(async () => (await t.api('GET', `/api/runs/${body.runId}`)).body.nodes.gate?.status === 'waiting_for_user');
    expectError(await t.api('POST', `/api/stitch/complete/${body.runId}/gate`, '[1]'), 400, 'validation_failed');
    expectError(await t.api('POST', `/api/stitch/complete/${body.runId}/gate`, { input: [1, 2] }), 400, 'validation_failed');
    expectError(await t.api('POST', `/api/stitch/complete/${body.runId}/nope`, { input: {} }), 404, 'not_found');
    expectError(await t.api('POST', `/api/stitch/complete/${missing}/gate`, { input: {} }), 404, 'not_found');
    expectError(await t.api('POST', `/api/stitch/complete/${body.runId}/s`, { input: {} }), 409, 'conflict');
    expect((await t.api('POST', `/api/stitch/complete/${body.runId}/gate`, { input: { approved: true } })).body).toEqual({ ok: true });
    const run = await waitForRun(body.runId);
    expect(run.status).toBe('completed');
    expect(run.output).toEqual({ draft: 'v1', approved: true });
    expectError(await t.api('POST', `/api/stitch/complete/${body.runId}/gate`, { input: { approved: false } }), 409, 'conflict');
  });
});

describe('callbacks', () => {
  it('200 {ok:true}, then {ok:true, duplicate:true} for the identical repeat, 409 for a different one', async () => {
    const runId = await startVendorRun();
    const path = callbackPath(runId, 'w');
    const body = { status: 'completed', output: { url: 'https://cdn.example/v.mp4' } };
    expect((await t.api('POST', path, body)).body).toEqual({ ok: true });
    const run = await waitForRun(runId);
    expect(run.status).toBe('completed');
    // The callback output is merged over the input the worker stored.
    expect(run.nodes.w.output).toEqual({ topic: 'otters', url: 'https://cdn.example/v.mp4' });
    expect((await t.api('POST', path, body)).body).toEqual({ ok: true, duplicate: true });
    expectError(await t.api('POST', path, { status: 'failed', error: 'late' }), 409, 'conflict');
  });

  it('a failed callback fails the node and the run', async () => {
    const runId = await startVendorRun();
    expect((await t.api('POST', callbackPath(runId, 'w'), { status: 'failed', error: 'vendor exploded' })).status).toBe(200);
    const run = await waitForRun(runId);
    expect(run.status).toBe('failed');
    expect(run.nodes.w.error).toContain('vendor exploded');
  });

  it('400 for a bad body, 401 without a token, 404 for an unknown run or node', async () => {
    const runId = await startVendorRun();
    const path = callbackPath(runId, 'w');
    expectError(await t.api('POST', path, { status: 'maybe' }), 400, 'validation_failed');
    expectError(await t.api('POST', path, '{not json'), 400, 'validation_failed');
    expectError(await t.api('POST', path, { status: 'failed', error: 42 }), 400, 'validation_failed');
    expectError(await t.api('POST', path.replace(/\?.*$/, ''), { status: 'completed' }), 401, 'unauthorized');
    // A correctly signed token for a run or node that does not exist.
    const ghostRun = `/api/stitch/callback/${missing}/w?token=${createCallbackToken(missing, 'w', 1, 60)}`;
    expectError(await t.api('POST', ghostRun, { status: 'completed' }), 404, 'not_found');
    const ghostNode = `/api/stitch/callback/${runId}/ghost?token=${createCallbackToken(runId, 'ghost', 1, 60)}`;
    expectError(await t.api('POST', ghostNode, { status: 'completed' }), 404, 'not_found');
    expect((await t.api('GET', `/api/runs/${runId}`)).body.nodes.w.status).toBe('running');
  });

  it('a worker callback adapter answers the vendor handshake and translates its payload', async () => {
    const runId = await startVendorRun('adapter');
    const path = callbackPath(runId, 'w');
    const handshake = await t.api('POST', path, { challenge: 'abc123' });
    expect(handshake.status).toBe(200);
    expect(handshake.body).toEqual({ challenge: 'abc123' });
    expect((await t.api('GET', `/api/runs/${runId}`)).body.nodes.w.status).toBe('running');
    // The handshake needs the token too.
    expectError(await t.api('POST', path.replace(/\?.*$/, ''), { challenge: 'abc123' }), 401, 'unauthorized');
    expectError(await t.api('POST', path, { something: 'else' }), 400, 'validation_failed');
    expect((await t.api('POST', path, { task: { state: 'done', result: 42 } })).body).toEqual({ ok: true });
    const run = await waitForRun(runId);
    expect(run.status).toBe('completed');
    expect(run.nodes.w.output).toMatchObject({ topic: 'otters', result: 42 });
  });
});

describe('callbacks, async adapters (issue 25.4)', () => {
  it('an async parseCallback is awaited; {reply, pollNow} runs poll() now; its own failure is 503', async () => {
    const runId = await startVendorRun('id-only');
    const path = callbackPath(runId, 'w');
    expectError(await t.api('POST', path, { job_id: 'j1', lookup: 'fails' }), 503, 'unavailable');
    expect((await t.api('GET', `/api/runs/${runId}`)).body.nodes.w.status).toBe('running');
    const reply = await t.api('POST', path, { job_id: 'j1', status: 'completed' });
    expect(reply.status).toBe(200);
    expect(reply.body).toEqual({ received: 'j1' });
    const run = await waitForRun(runId);
    expect(run.status).toBe('completed');
    expect(run.nodes.w.output).toMatchObject({ topic: 'otters', text: 'result for otters' });
  });
});

describe('catalogue, operations, documentation', () => {
  it('GET /api/workers lists every definition', async () => {
    const res = await t.api('GET', '/api/workers');
    expect(res.status).toBe(200);
    const ids = res.body.workers.map((w: { id: string }) => w.id);
    expect(ids).toEqual(expect.arrayContaining(['transform', 'wait', 'echo', 'vendor']));
    expect(res.body.workers.find((w: { id: string }) => w.id === 'wait')).toMatchObject({ type: 'async', input: {}, output: expect.any(Object) });
  });

  it('GET /api/health → 200 with database and queue state', async () => {
    const res = await t.api('GET', '/api/health');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ status: 'ok', database: 'ok', queue: { liveRunners: 1 } });
  });

  it('GET /metrics → Prometheus text with runs, nodes, queue and node durations by worker type', async () => {
    await t.api('GET', '/metrics'); // the first scrape sets the duration histogram's starting point
    const flowId = await newFlow('metrics');
    const { body } = await t.api('POST', `/api/flows/${flowId}/run`, {});
    await waitForRun(body.runId);
    const res = await t.api('GET', '/metrics');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/text\/plain/);
    expect(res.body).toMatch(/stitch_runs\{status="completed"\} [1-9]/);
    expect(res.body).toMatch(/stitch_node_instances\{status="completed"\} [1-9]/);
    expect(res.body).toMatch(/stitch_queue_jobs\{state="ready"\} \d+/);
    expect(res.body).toMatch(/stitch_node_duration_seconds_count\{worker_type="echo",status="completed"\} [1-9]/);
  });

  it('GET /api/openapi.json documents every route; /api/docs renders it', async () => {
    const doc = await t.api('GET', '/api/openapi.json');
    expect(doc.status).toBe(200);
    const paths = Object.keys(doc.body.paths);
    for (const p of [
      '/api/flows',
      '/api/flows/{id}',
      '/api/flows/{id}/versions',
      '/api/flows/{id}/versions/{versionId}',
      '/api/flows/{id}/run',
      '/api/canvas/{id}/run',
      '/api/flows/{id}/triggers',
      '/api/runs',
      '/api/runs/{runId}',
      '/api/runs/{runId}/cancel',
      '/api/runs/{runId}/events',
      '/api/events',
      '/api/stitch/status/{runId}',
      '/api/stitch/callback/{runId}/{nodeId}',
      '/api/stitch/complete/{runId}/{nodeId}',
      '/api/stitch/retry/{runId}/{nodeId}',
      '/api/webhooks/{slug}',
      '/api/workers',
      '/api/health',
    ]) {
      expect(paths).toContain(p);
    }
    expect(doc.body.paths['/api/flows'].post.requestBody.content['application/json'].schema).toBeDefined();
    const page = await t.api('GET', '/api/docs');
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/text\/html/);
    expect(page.body).toContain('/api/flows/{id}/run');
  });

  it('unknown API routes answer 404 in the error shape', async () => {
    expectError(await t.api('GET', '/api/nope'), 404, 'not_found');
    expectError(await t.api('POST', '/api/runs'), 404, 'not_found');
  });
});

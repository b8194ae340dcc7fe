/**
 * OpenTelemetry traces (issue 24.5) to a loopback OTLP/HTTP receiver. A run with a splitter whose
 * items call a vendor, an async http-webhook node and a remote node gives one trace: the run's
 * root span, a span per node attempt named by its node id (worker type, attempt, status, cost,
 * retry), the vendor calls as children of their item's attempt, the webhook's POST as a child
 * whose `traceparent` the receiver got, the callbacks (the webhook's, the remote worker's) as
 * spans linked to the attempt they complete, and the remote task handed its attempt's traceparent.
 * http/json is decoded span by span; http/protobuf is checked to arrive as protobuf naming the
 * nodes. Off, nothing is loaded: no endpoint, no tracing.
 */
import type { ServerResponse } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getConfig } from '@/lib/config';
import { vendorJson } from '@/lib/workers/vendor-http';
import { tracingOn } from '@/lib/tracing/tracer';
import { attemptSpanIdOf, runSpanIdOf, traceIdOf } from '@/lib/tracing/ids';
import { eventually, graph, registerTestWorker, syncWorker, waitForRun } from '../helpers';
import { startTestServer, type TestServer } from './http';
import { postJson, sendJson, startVendorServer, type Recorded, type VendorServer } from '../vendors/server';

interface OtlpValue {
  stringValue?: string;
  intValue?: string | number;
  boolValue?: boolean;
  doubleValue?: number;
}
interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes: Array<{ key: string; value: OtlpValue }>;
  status?: { code?: number };
  links?: Array<{ traceId: string; spanId: string }>;
}

const KEY = 'tracing-key';
let collector: VendorServer;
let vendor: VendorServer;
let t: TestServer | undefined;

/** Every span the collector received for `traceId`. */
function spansOf(traceId: string): OtlpSpan[] {
  return collector.requests
    .filter((r) => r.path === '/v1/traces' && typeof r.body === 'object')
    .flatMap((r) => (r.body.resourceSpans as Array<{ scopeSpans: Array<{ spans: OtlpSpan[] }> }>).flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans)))
    .filter((s) => s.traceId === traceId);
}

const attr = (span: OtlpSpan, key: string) => {
  const v = span.attributes.find((a) => a.key === key)?.value;
  return v && (v.stringValue ?? (v.intValue === undefined ? undefined : Number(v.intValue)) ?? v.boolValue ?? v.doubleValue);
};

const allowPrivate = process.env.STITCH_WEBHOOK_ALLOW_PRIVATE;

beforeAll(async () => {
  // The http-webhook worker reads its settings through getConfig(): it may call the loopback receiver.
  process.env.STITCH_WEBHOOK_ALLOW_PRIVATE = '1';
  // A worker whose vendor call is made through vendorJson, as the built-in integrations' are.
  registerTestWorker(
    'trace-vendor',
    syncWorker(async (input: { n: number }) => vendorJson({ vendor: 'Fake', url: `${vendor.url}/v1/echo?key=secret`, json: input, timeoutMs: 5000 })),
  );
  collector = await startVendorServer((_req: Recorded, res: ServerResponse) => void res.writeHead(200, { 'content-type': 'application/json' }).end('{}'));
  vendor = await startVendorServer((req: Recorded, res: ServerResponse) => {
    if (req.path === '/v1/echo') return sendJson(res, 200, { n: req.body.n, twice: req.body.n * 2 });
    // The http-webhook worker's service: answer at once, call back a moment later.
    res.writeHead(202).end();
    setTimeout(() => void postJson(req.body.callbackUrl, { status: 'completed', output: { hooked: true } }), 50);
  });
});

afterAll(async () => {
  if (allowPrivate === undefined) delete process.env.STITCH_WEBHOOK_ALLOW_PRIVATE;
  else process.env.STITCH_WEBHOOK_ALLOW_PRIVATE = allowPrivate;
  await t?.close();
  await collector?.close();
  await vendor?.close();
});

describe('tracing off', () => {
  it('is off without an OTLP endpoint, and refuses gRPC', () => {
    expect(getConfig({}).tracing).toBeUndefined();
    expect(getConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:1', OTEL_SDK_DISABLED: 'true' }).tracing).toBeUndefined();
    expect(getConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:1/' }).tracing).toMatchObject({ url: 'http://127.0.0.1:1/v1/traces', protocol: 'http/protobuf', serviceName: 'stitch' });
    expect(() => getConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:1', OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' })).toThrow(/grpc/);
    expect(tracingOn()).toBe(false);
  });
});

describe('tracing over OTLP/HTTP (http/json)', () => {
  beforeAll(async () => {
    t = await startTestServer({
      env: {
        STITCH_API_KEY: KEY,
        STITCH_WEBHOOK_ALLOW_PRIVATE: '1',
        OTEL_EXPORTER_OTLP_ENDPOINT: collector.url,
        OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
        OTEL_SERVICE_NAME: 'stitch-trace-test',
      },
    });
  });
  afterAll(async () => {
    await t?.close();
    t = undefined;
  });

  const api = (method: string, path: string, body?: unknown) => t!.api(method, path, body, { authorization: `Bearer ${KEY}` });

  it('writes a trace per run: the root, a span per node attempt, vendor calls, the webhook POST, callbacks, the remote attempt', async () => {
    const reg = await api('POST', '/api/remote-workers/register', {
      workerId: 'w-trace',
      workers: [{ id: 'trace-remote', description: 'remote', input: { hooked: { type: 'boolean', description: 'x' } }, output: {}, config: {} }],
    });
    expect(reg.status, JSON.stringify(reg.body)).toBe(200);
    const g = graph(
      [
        { id: 's', type: 'start' },
        { id: 'split', type: 'splitter', config: { arrayPath: 'items' } },
        { id: 'fetch', workerType: 'trace-vendor' },
        { id: 'gather', type: 'collector', config: {} },
        { id: 'hook', workerType: 'http-webhook', config: { webhookUrl: `${vendor.url}/hook` } },
        { id: 'far', workerType: 'trace-remote' },
        { id: 'e', type: 'end' },
      ],
      [['s', 'split'], ['split', 'fetch'], ['fetch', 'gather'], ['gather', 'hook'], ['hook', 'far'], ['far', 'e']],
    );
    const flow = await api('POST', '/api/flows', { name: 'traced', graph: g });
    expect(flow.status, JSON.stringify(flow.body)).toBe(201);
    const started = await api('POST', `/api/flows/${flow.body.id}/run`, { input: { items: [{ n: 1 }, { n: 2 }, { n: 3 }] } });
    expect(started.status).toBe(202);
    const runId = started.body.runId as string;
    const trace = traceIdOf(runId);

    // The remote worker: its task names the attempt's span as the parent of whatever it does.
    const polled = await api('POST', '/api/tasks/poll', { types: ['trace-remote'], workerId: 'w-trace', waitSeconds: 20 });
    expect(polled.status).toBe(200);
    const [task] = polled.body.tasks;
    expect(task, JSON.stringify(await t!.api('GET', `/api/runs/${runId}`, undefined, { authorization: `Bearer ${KEY}` }).then((r) => r.body))).toBeDefined();
    expect(task.traceparent).toBe(`00-${trace}-${attemptSpanIdOf({ runId, instanceId: 'far', attempt: 1 })}-01`);
    expect((await api('POST', `/api/tasks/${task.taskId}/complete`, { token: task.token, output: { far: true } })).status).toBe(200);
    expect((await waitForRun(runId)).status).toBe('completed');

    // Spans arrive once the run's end is older than the exporter's settling margin, in batches.
    const root = runSpanIdOf(runId);
    await eventually(async () => spansOf(trace).some((s) => s.spanId === root) && spansOf(trace).length >= 14, 30_000);
    const spans = spansOf(trace);
    const byName = (name: string) => spans.filter((s) => s.name === name);

    const [run] = spans.filter((s) => s.spanId === root);
    expect(run).toMatchObject({ name: 'run traced' });
    expect(run.parentSpanId ?? '').toBe('');
    expect(attr(run, 'stitch.status')).toBe('completed');
    const resource = collector.requests.find((r) => r.path === '/v1/traces')!.body.resourceSpans[0].resource.attributes;
    expect(resource).toContainEqual({ key: 'service.name', value: { stringValue: 'stitch-trace-test' } });

    // One span per node attempt, named by node id, children of the run, with their facts.
    for (const node of ['s', 'split', 'gather', 'hook', 'far', 'e']) {
      expect(byName(node), node).toHaveLength(1);
      expect(byName(node)[0]).toMatchObject({ parentSpanId: root, spanId: attemptSpanIdOf({ runId, instanceId: node, attempt: 1 }) });
      expect(attr(byName(node)[0], 'stitch.attempt')).toBe(1);
      expect(attr(byName(node)[0], 'stitch.status')).toBe('completed');
      expect(attr(byName(node)[0], 'stitch.retry')).toBe(false);
    }
    expect(attr(byName('hook')[0], 'stitch.worker_type')).toBe('http-webhook');
    expect(attr(byName('far')[0], 'stitch.worker_type')).toBe('trace-remote');
    expect(attr(byName('split')[0], 'stitch.node_type')).toBe('splitter');
    expect(typeof attr(byName('hook')[0], 'stitch.cost_usd')).toBe('number');

    // The splitter's items: one span each, and each item's vendor call a client child of it.
    const items = byName('fetch');
    expect(items.map((s) => attr(s, 'stitch.item_path')).sort()).toEqual(['0', '1', '2']);
    const calls = spans.filter((s) => s.name.startsWith('Fake POST /v1/echo'));
    expect(calls).toHaveLength(3);
    expect(calls.map((c) => c.parentSpanId).sort()).toEqual(items.map((s) => s.spanId).sort());
    for (const c of calls) {
      expect(c.kind).toBe(3); // CLIENT
      expect(attr(c, 'http.response.status_code')).toBe(200);
      expect(String(attr(c, 'url.full'))).not.toContain('secret'); // no query string
    }

    // The webhook's POST: a child of the hook attempt, and the receiver got its traceparent.
    const hookAttempt = attemptSpanIdOf({ runId, instanceId: 'hook', attempt: 1 });
    const post = spans.find((s) => s.name.startsWith('POST 127.0.0.1'))!;
    expect(post.parentSpanId).toBe(hookAttempt);
    const hookRequest = vendor.requests.find((r) => r.path === '/hook')!;
    expect(hookRequest.headers.traceparent).toBe(`00-${trace}-${post.spanId}-01`);

    // Callbacks (the webhook service's, the remote worker's completion): linked to their attempt.
    for (const node of ['hook', 'far']) {
      const attempt = attemptSpanIdOf({ runId, instanceId: node, attempt: 1 });
      const [callback] = byName(`callback ${node}`);
      expect(callback, node).toBeDefined();
      expect(callback.parentSpanId).toBe(attempt);
      expect(callback.links).toEqual([expect.objectContaining({ traceId: trace, spanId: attempt })]);
    }
  });

  it('marks a retried attempt and the failed one', async () => {
    let calls = 0;
    registerTestWorker(
      'trace-flaky',
      syncWorker(() => {
        calls += 1;
        if (calls === 1) throw new Error('flaky once');
        return { ok: true };
      }),
      { retry: { attempts: 2, backoffMs: 10, maxBackoffMs: 10 } },
    );
    const flow = await api('POST', '/api/flows', { name: 'flaky', graph: graph(['s:start', 'x:trace-flaky', 'e:end'], [['s', 'x'], ['x', 'e']]) });
    const started = await api('POST', `/api/flows/${flow.body.id}/run`, { input: {} });
    const runId = started.body.runId as string;
    expect((await waitForRun(runId)).status).toBe('completed');
    const trace = traceIdOf(runId);
    await eventually(async () => spansOf(trace).some((s) => s.spanId === runSpanIdOf(runId)), 30_000);
    const attempts = spansOf(trace).filter((s) => s.name === 'x').sort((a, b) => Number(attr(a, 'stitch.attempt')) - Number(attr(b, 'stitch.attempt')));
    expect(attempts.map((s) => [attr(s, 'stitch.attempt'), attr(s, 'stitch.status'), attr(s, 'stitch.retry')])).toEqual([
      [1, 'retried', false],
      [2, 'completed', true],
    ]);
    expect(attempts[0].status?.code).toBe(2); // ERROR
  });
});

describe('tracing over OTLP/HTTP (http/protobuf, the default)', () => {
  it('exports protobuf naming the nodes', async () => {
    t = await startTestServer({ env: { STITCH_API_KEY: KEY, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${collector.url}/proto/v1/traces` } });
    const api = (method: string, path: string, body?: unknown) => t!.api(method, path, body, { authorization: `Bearer ${KEY}` });
    const flow = await api('POST', '/api/flows', { name: 'proto', graph: graph(['s:start', 'protonode:trace-vendor', 'e:end'], [['s', 'protonode'], ['protonode', 'e']]) });
    expect(flow.status, JSON.stringify(flow.body)).toBe(201);
    const started = await api('POST', `/api/flows/${flow.body.id}/run`, { input: { n: 1 } });
    expect(started.status, JSON.stringify(started.body)).toBe(202);
    expect((await waitForRun(started.body.runId)).status).toBe('completed');
    const sent = await eventually(async () => collector.requests.find((r) => r.path === '/proto/v1/traces' && String(r.body).includes('protonode')), 30_000);
    expect(sent.headers['content-type']).toBe('application/x-protobuf');
    await t.close();
    t = undefined;
  });
});

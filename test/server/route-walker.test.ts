/**
 * The route walker (issue 21; docs/architecture.md, "Every route is walked"). It reads
 * `/api/openapi.json`, adds the routes outside it (walker/routes.ts), and sends every route, with
 * and without the API key, hostile input: wrong and missing content types, JSON on the binary
 * upload route and bytes on JSON routes, bodies of 0 bytes, just over the limit and 50 MB,
 * malformed percent-encoding and `__proto__`/`toString`/10 KB/NUL/emoji ids, deep nesting,
 * out-of-range numbers and duplicate keys — each field of a valid body in turn, so the input gets
 * past validation to the handler. It asserts: no 5xx; no stack or database wording in any answer;
 * a route that needs the key answers 401 without it; every answer within seconds of the
 * request's end; RSS growth bounded while it walks; the server healthy afterwards. And a route
 * the app registers without an OpenAPI entry (or a place on the short list) fails it.
 *
 * `STITCH_WALK_FULL=1` sends every hostile segment and query value with every body variant too
 * (the cross product: minutes, not seconds).
 */
import { randomBytes } from 'node:crypto';
import v8 from 'node:v8';
import vm from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCallbackToken } from '@/lib/host/callback-tokens';
import { put } from '@/lib/storage';
import { signBody } from '@/server/routes/webhooks';
import { createApp } from '@/server/app';
import { graph, waitForRun, eventually } from '../helpers';
import { getRunWithNodes } from '@/lib/db/runs';
import { startTestServer, type TestServer } from './http';
import { oneWorkerGraph, registerHttpTestWorkers } from './test-workers';
import { undocumentedRoutes, walkRoutes, type WalkRoute } from './walker/routes';
import { send, type WalkAnswer, type WalkRequest } from './walker/send';
import {
  CONTENT_TYPES,
  HOSTILE_QUERY_VALUES,
  HOSTILE_VALUES,
  LEAK_PATTERNS,
  fieldVariants,
  hostileBodies,
  hostileSegments,
  minimalValue,
  resolver,
  type Resolve,
} from './walker/variants';

const API_KEY = 'walker-key-0123456789abcdef';
const AUTH = { authorization: `Bearer ${API_KEY}` };
const BODY_LIMIT = 64 * 1024;
const FIFTY_MB = 50 * 1024 * 1024;
/** A generous bound, not a performance figure: every answer comes within this of the request's end. */
const ANSWER_MS = 15_000;
const RSS_GROWTH_BYTES = 64 * 1024 * 1024;
const FULL = process.env.STITCH_WALK_FULL === '1';
/** `STITCH_WALK_ONLY=<regex>`: walk only the routes whose "METHOD /template" matches (while fixing one). */
const ONLY = process.env.STITCH_WALK_ONLY ? new RegExp(process.env.STITCH_WALK_ONLY) : undefined;
const CONCURRENCY = 4;
/** The first `n` of a list (lists put what `npm test` sends first), or all of it in the full walk. */
const few = <T>(list: T[], n: number): T[] => (FULL ? list : list.slice(0, n));
const VALUES = few(HOSTILE_VALUES, 10);

// A collection now and then while walking: the bound is on what the server holds (buffered bodies,
// sessions, caches), not on how lazily V8 collects the garbage of thousands of requests.
v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;
const GC_EVERY = 200;

let t: TestServer;
let document: any;
let resolve: Resolve;
const fx = {} as {
  flowId: string;
  versionId: string;
  echoFlowId: string;
  gateRunId: string;
  vendorRunId: string;
  callbackToken: string;
  taskId: string;
  taskToken: string;
  triggerId: string;
  slug: string;
  secret: string;
  scheduleId: string;
  upload: { path: string; expires: string; signature: string };
  fileKey: string;
  mcpSession: string;
};

async function api(method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
  const res = await t.api(method, path, body, { ...AUTH, ...headers });
  if (res.status >= 400) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(res.body)}`);
  return res;
}

const MCP_ACCEPT = { accept: 'application/json, text/event-stream' };
const initialize = (id: number | string = 1) => ({
  jsonrpc: '2.0',
  id,
  method: 'initialize',
  params: { protocolVersion: '2025-03-26', capabilities: {}, clientInfo: { name: 'walker', version: '1' } },
});

beforeAll(async () => {
  registerHttpTestWorkers();
  t = await startTestServer({
    env: { STITCH_API_KEY: API_KEY, STITCH_BODY_LIMIT_BYTES: String(BODY_LIMIT), STITCH_ENCRYPTION_KEY: randomBytes(32).toString('base64') },
  });
  document = (await api('GET', '/api/openapi.json')).body;
  resolve = resolver(document);

  const gate = graph(['s:start', { id: 'gate', type: 'ux', config: { prompt: 'ok?' } }, 'e:end'], [['s', 'gate'], ['gate', 'e']]);
  const flow = (await api('POST', '/api/flows', { name: 'walker gate', graph: gate })).body;
  fx.flowId = flow.id;
  fx.versionId = flow.versionId;
  fx.gateRunId = (await api('POST', `/api/flows/${fx.flowId}/run`, {})).body.runId;
  fx.echoFlowId = (await api('POST', '/api/flows', { name: 'walker echo', graph: graph(['s:start', 'e:end'], [['s', 'e']]) })).body.id;

  const vendorFlow = (await api('POST', '/api/flows', { name: 'walker vendor', graph: oneWorkerGraph('vendor') })).body.id;
  fx.vendorRunId = (await api('POST', `/api/flows/${vendorFlow}/run`, {})).body.runId;
  fx.callbackToken = createCallbackToken(fx.vendorRunId, 'w', 1, 3600);

  const trigger = (await api('POST', `/api/flows/${fx.echoFlowId}/triggers`, {})).body;
  Object.assign(fx, { triggerId: trigger.id, slug: trigger.slug, secret: trigger.secret });
  fx.scheduleId = (await api('POST', `/api/flows/${fx.echoFlowId}/schedules`, { cron: '0 9 * * *' })).body.id;
  await api('PUT', '/api/credentials/WALKER_API_KEY', { value: 'walker-secret-value' });

  await api('POST', '/api/remote-workers/register', { workerId: 'walker-worker', workers: [{ id: 'walker-remote', input: {} }] });
  const remoteFlow = (await api('POST', '/api/flows', { name: 'walker remote', graph: oneWorkerGraph('walker-remote') })).body.id;
  await api('POST', `/api/flows/${remoteFlow}/run`, {});
  const [task] = (await api('POST', '/api/tasks/poll', { types: ['walker-remote'], workerId: 'walker-worker', waitSeconds: 20 })).body.tasks;
  Object.assign(fx, { taskId: task.taskId, taskToken: task.token });
  const grant = new URL((await api('POST', `/api/tasks/${fx.taskId}/uploads`, { token: fx.taskToken, filename: 'walk.bin' })).body.uploadUrl);
  fx.upload = { path: grant.pathname.replace('/api/uploads/', ''), expires: grant.searchParams.get('expires')!, signature: grant.searchParams.get('signature')! };
  fx.fileKey = 'walker/stored.txt';
  await put(fx.fileKey, 'stored', 'text/plain');

  const init = await t.api('POST', '/mcp', initialize(), { ...AUTH, ...MCP_ACCEPT });
  fx.mcpSession = init.headers.get('mcp-session-id')!;
  await t.api('POST', '/mcp', { jsonrpc: '2.0', method: 'notifications/initialized' }, { ...AUTH, ...MCP_ACCEPT, 'mcp-session-id': fx.mcpSession });

  await eventually(async () => (await getRunWithNodes(fx.gateRunId)).nodes.gate?.status === 'waiting_for_user');
  await eventually(async () => (await getRunWithNodes(fx.vendorRunId)).nodes.w?.status === 'running');
});
afterAll(() => t?.close());

/** Fixture values of path parameters, by name (and by route where one name means two things). */
function pathParams(route: WalkRoute): Record<string, string> {
  // Callbacks and streamed output authenticate with the vendor run's node attempt token.
  const callback = /^\/api\/stitch\/(callback|stream)\//.test(route.template);
  return {
    id: fx.flowId,
    versionId: fx.versionId,
    runId: callback ? fx.vendorRunId : fx.gateRunId,
    nodeId: callback ? 'w' : 'gate',
    taskId: fx.taskId,
    triggerId: fx.triggerId,
    scheduleId: fx.scheduleId,
    name: 'WALKER_API_KEY',
    slug: fx.slug,
    key: route.template.startsWith('/files/') ? fx.fileKey : fx.upload.path,
    path: 'index.html',
    type: 'walker-remote',
  };
}

/** Fixture values of query parameters and body fields a schema cannot make up. */
function queryParams(route: WalkRoute): Record<string, string> {
  if (/^\/api\/stitch\/(callback|stream)\//.test(route.template)) return { token: fx.callbackToken };
  if (route.template.startsWith('/api/uploads/')) return { expires: fx.upload.expires, signature: fx.upload.signature };
  return {};
}

const BODY_FIELDS: Record<string, unknown> = {
  graph: graph(['s:start', 'e:end'], [['s', 'e']]),
  token: '', // set per route below
  workerId: 'walker-worker',
  types: ['walker-remote'],
  workers: [{ id: 'walker-remote-2', input: {} }],
  waitSeconds: 0,
  cron: '0 9 * * *',
  name: 'walker',
  value: 'walker-secret-value',
  status: 'completed',
  output: {},
  error: 'walker error',
};

function buildPath(route: WalkRoute, params: Record<string, string>, query: Record<string, string>): string {
  const path = route.template.replace(/\{([^}]+)\}/g, (_, name: string) => params[name] ?? 'x');
  const search = Object.entries(query)
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
  return search ? `${path}?${search}` : path;
}

/** The encoded fixture params. */
function encodedParams(route: WalkRoute): Record<string, string> {
  return Object.fromEntries(
    Object.entries(pathParams(route)).map(([k, v]) => [k, k === 'key' || k === 'path' ? v : encodeURIComponent(v)]),
  );
}

function validBody(route: WalkRoute): unknown {
  if (route.template === '/mcp') return route.method === 'POST' ? initialize() : undefined;
  if (route.template === '/api/webhooks/{slug}') return { hello: 'walker' };
  const schema = route.operation?.requestBody?.content?.['application/json']?.schema;
  if (!schema) return undefined;
  return minimalValue(schema, resolve, { ...BODY_FIELDS, token: fx.taskToken });
}

interface Planned extends WalkRequest {
  label: string;
  route: WalkRoute;
  /** Sent without a valid key. */
  keyless: boolean;
}

const json = (text: string | Buffer, type: string | undefined = 'application/json') => ({
  headers: type ? { 'content-type': type } : ({} as Record<string, string>),
  body: { bytes: Buffer.isBuffer(text) ? text : Buffer.from(text) },
});

/** Every request for one route. */
function plan(route: WalkRoute): Planned[] {
  const out: Planned[] = [];
  const params = encodedParams(route);
  const query = queryParams(route);
  const valid = validBody(route);
  const validText = valid === undefined ? undefined : JSON.stringify(valid);
  const isMcp = route.template === '/mcp';
  const extraHeaders = (bytes?: Buffer): Record<string, string> => ({
    ...(isMcp ? MCP_ACCEPT : {}),
    ...(route.template === '/api/webhooks/{slug}' && bytes ? { 'x-stitch-signature': signBody(fx.secret, bytes) } : {}),
  });
  const add = (label: string, r: Omit<WalkRequest, 'method'> & { keyless?: boolean; auth?: boolean }) => {
    const bytes = r.body && 'bytes' in r.body ? r.body.bytes : undefined;
    const headers = { ...(r.auth === false ? {} : AUTH), ...extraHeaders(bytes), ...r.headers };
    out.push({ label, route, method: route.method, path: r.path, headers, body: r.body, keyless: r.auth === false || Boolean(r.keyless), streamMs: isMcp ? 5000 : undefined });
  };
  const path = buildPath(route, params, query);
  const hasBody = route.method !== 'GET' && route.method !== 'HEAD';

  // With the key: the valid request, then its body's hostile variants.
  add('no body', { path });
  if (hasBody) {
    if (validText) add('valid body', { path, ...json(validText) });
    for (const [name, bytes] of hostileBodies(validText)) add(`body: ${name}`, { path, ...json(bytes) });
    if (valid && typeof valid === 'object' && !Array.isArray(valid)) {
      for (const [name, text] of fieldVariants(valid as Record<string, unknown>, VALUES)) add(`field ${name}`, { path, ...json(text) });
    }
    for (const type of few(CONTENT_TYPES, 5)) add(`valid body as ${type ?? 'no content type'}`, { path, ...json(validText ?? '{}', type) });
    const binary = randomBytes(4096);
    add('binary as octet-stream', { path, ...json(binary, 'application/octet-stream') });
    add('binary as JSON', { path, ...json(binary) });
    add('just over the limit', { path, headers: { 'content-type': 'application/json' }, body: { size: BODY_LIMIT + 1 } });
    add('just over the limit, chunked', { path, headers: { 'content-type': 'application/json' }, body: { size: BODY_LIMIT + 1, chunked: true } });
    add('50 MB', { path, headers: { 'content-type': 'application/json' }, body: { size: FIFTY_MB } });
    add('50 MB chunked', { path, headers: { 'content-type': 'application/json' }, body: { size: FIFTY_MB, chunked: true } });
    if (FULL || route.template.startsWith('/api/uploads/')) add('50 MB binary', { path, headers: { 'content-type': 'image/png' }, body: { size: FIFTY_MB, fill: '\u00ff' } });
  } else {
    add('a body on a bodiless method', { path, ...json('{"a":1}') });
    add('50 MB on a bodiless method', { path, headers: { 'content-type': 'application/json' }, body: { size: FIFTY_MB, chunked: true } });
  }

  // Hostile path segments and query values, with the valid body.
  const bodyFor = () => (validText ? json(validText) : {});
  for (const name of Object.keys(params).filter((n) => route.template.includes(`{${n}}`))) {
    for (const segment of few(hostileSegments(params[name]), 10)) {
      add(`{${name}}=${segment.slice(0, 24)}`, { path: buildPath(route, { ...params, [name]: segment }, query), ...bodyFor() });
      if (FULL && hasBody) {
        for (const [bodyName, bytes] of hostileBodies(validText)) add(`{${name}}=${segment.slice(0, 24)} body: ${bodyName}`, { path: buildPath(route, { ...params, [name]: segment }, query), ...json(bytes) });
      }
    }
  }
  const queryNames = [...new Set([...(route.operation?.parameters ?? []).filter((p) => p.in === 'query').map((p) => p.name), ...Object.keys(query)])];
  for (const name of queryNames) {
    for (const value of few(HOSTILE_QUERY_VALUES, 5)) add(`?${name}=${value.slice(0, 24)}`, { path: buildPath(route, params, { ...query, [name]: value }), ...bodyFor() });
    add(`?${name} twice`, { path: `${buildPath(route, params, query)}&${name}=2`.replace(/^([^?]*)&/, '$1?'), ...bodyFor() });
  }
  add('prototype names in the query', { path: `${buildPath(route, params, query)}${path.includes('?') ? '&' : '?'}__proto__=1&constructor=x&toString=y`, ...bodyFor() });

  // Without the key, with a wrong key, with a key in the query.
  add('no key', { path, auth: false });
  if (validText) add('no key, valid body', { path, auth: false, ...json(validText) });
  add('no key, 50 MB', { path, auth: false, headers: { 'content-type': 'application/json' }, body: { size: FIFTY_MB } });
  if (FULL) add('no key, 50 MB chunked', { path, auth: false, headers: { 'content-type': 'application/json' }, body: { size: FIFTY_MB, chunked: true } });
  add('wrong key', { path, auth: false, headers: { authorization: 'Bearer wrong' }, ...(validText ? json(validText) : {}) });
  add('key in the query', { path: `${path}${path.includes('?') ? '&' : '?'}api_key=wrong`, auth: false });

  if (isMcp && route.method === 'POST') out.push(...mcpSessionRequests(route));
  return out;
}

let rpcId = 100;

/** Requests inside an MCP session: tool calls with hostile arguments, hostile JSON-RPC. */
function mcpSessionRequests(route: WalkRoute): Planned[] {
  const headers = { ...AUTH, ...MCP_ACCEPT, 'mcp-session-id': fx.mcpSession, 'content-type': 'application/json' };
  const call = (label: string, text: string): Planned => ({ label: `session: ${label}`, route, method: 'POST', path: '/mcp', headers, body: { bytes: Buffer.from(text) }, keyless: false, streamMs: 5000 });
  // Every request its own JSON-RPC id: the transport answers an id on the stream that asked last.
  const out: Planned[] = [call('tools/list', `{"jsonrpc":"2.0","id":${rpcId++},"method":"tools/list"}`)];
  for (const [name, value] of VALUES) {
    out.push(call(`walker_echo {a: ${name}}`, `{"jsonrpc":"2.0","id":${rpcId++},"method":"tools/call","params":{"name":"walker_echo","arguments":{"a":${value}}}}`));
    out.push(call(`get_run {runId: ${name}}`, `{"jsonrpc":"2.0","id":${rpcId++},"method":"tools/call","params":{"name":"get_run","arguments":{"runId":${value}}}}`));
    out.push(call(`tool name ${name}`, `{"jsonrpc":"2.0","id":${rpcId++},"method":"tools/call","params":{"name":${value},"arguments":{}}}`));
  }
  const batch = Array.from({ length: 50 }, () => ({ jsonrpc: '2.0', id: rpcId++, method: 'tools/list' }));
  out.push(call('a batch', JSON.stringify(batch)));
  out.push(call('unknown method', `{"jsonrpc":"2.0","id":${rpcId++},"method":"nope/nope"}`));
  return out;
}

/** What is wrong with one answer (empty: nothing). */
function problems(request: Planned, answer: WalkAnswer): string[] {
  const found: string[] = [];
  // Node's own HTTP parser refusing the bytes (a GET with a chunked body on a closing connection):
  // a bare 400 before Stitch sees anything.
  if (answer.status === 400 && !answer.headers['content-type'] && answer.text === '') return found;
  const documented501 = answer.status === 501 && Boolean((request.route.operation as { responses?: Record<string, unknown> } | undefined)?.responses?.['501']);
  if (answer.status >= 500 && !documented501) found.push(`status ${answer.status}`);
  if (request.keyless && !request.route.public && answer.status !== 401) found.push(`status ${answer.status} without a valid key (expected 401)`);
  const documentation = ['/api/openapi.json', '/api/docs', '/{path}'].includes(request.route.template);
  if (!documentation || answer.status >= 400) {
    const leak = LEAK_PATTERNS.find((re) => re.test(answer.text));
    if (leak) found.push(`leaks ${leak}: ${answer.text.slice(0, 300)}`);
  }
  if (answer.status >= 400 && request.method !== 'HEAD' && request.route.template.startsWith('/api/') && answer.status !== 431) {
    let body: any;
    try {
      body = JSON.parse(answer.text);
    } catch {
      // reported below
    }
    if (typeof body?.error?.code !== 'string' || typeof body?.error?.message !== 'string') found.push(`error not in the {error:{code,message}} shape: ${answer.text.slice(0, 200)}`);
  }
  if (answer.afterEndMs > ANSWER_MS) found.push(`answered ${Math.round(answer.afterEndMs)} ms after the request's end`);
  return found;
}

/** Destructive requests go last, so the fixtures stay for the rest. */
const destructive = (r: WalkRoute) => r.method === 'DELETE' || /\/(complete|fail|cancel|rerun)$/.test(r.template);

describe('route walker', () => {
  it('every route the app registers is in /api/openapi.json or on the walker\'s short list', () => {
    const app = createApp({ config: t.stitch.config });
    expect(undocumentedRoutes(app, document)).toEqual([]);
  });

  it('hostile input to every route, with and without the key: no 5xx, no leaks, 401 without the key, prompt answers, bounded memory', async () => {
    const routes = walkRoutes(document).filter((r) => !ONLY || ONLY.test(`${r.method} ${r.template}`));
    const requests = routes.flatMap(plan);
    const base = new URL(t.url);
    const failures: string[] = [];
    const statuses = new Map<number, number>();

    // Warm up on a sample of the walk (compilations, pools, the allocator's arenas after large
    // bodies), so the baseline is a warm server's, then measure the peak over the whole walk.
    const sample = requests.filter((r, i) => i % 10 === 0 && !destructive(r.route));
    for (let i = 0; i < sample.length; i += CONCURRENCY) await Promise.all(sample.slice(i, i + CONCURRENCY).map((r) => send(base, r, ANSWER_MS).catch(() => undefined)));
    gc();
    const baseline = process.memoryUsage.rss();
    const cpu = process.cpuUsage();
    let sent = 0;
    let peak = baseline;
    const jumps: string[] = [];
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), 20);
    try {
      const walk = async (batch: Planned[]) => {
        let next = 0;
        const worker = async () => {
          for (let i = next++; i < batch.length; i = next++) {
            const request = batch[i];
            if (++sent % GC_EVERY === 0) gc();
            const where = `${request.method} ${request.path.slice(0, 120)} [${request.label}]`;
            try {
              const answer = await send(base, request, ANSWER_MS);
              const rss = process.memoryUsage.rss();
              if (rss > peak + 8 * 1024 * 1024) jumps.push(`${where}: RSS +${((rss - baseline) / 1048576).toFixed(0)} MB`);
              peak = Math.max(peak, rss);
              statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);
              for (const p of problems(request, answer)) failures.push(`${where}: ${p}`);
            } catch (error) {
              failures.push(`${where}: ${(error as Error).message}`);
            }
          }
        };
        await Promise.all(Array.from({ length: CONCURRENCY }, worker));
      };
      // Destructive requests after all the others.
      await walk(requests.filter((r) => !destructive(r.route)));
      await walk(requests.filter((r) => destructive(r.route)));
    } finally {
      clearInterval(sampler);
    }
    const growth = peak - baseline;
    gc();
    const retained = process.memoryUsage.rss() - baseline;
    const summary = `route walker: ${requests.length} requests over ${routes.length} routes; statuses ${JSON.stringify(Object.fromEntries(statuses))}; RSS peak +${(growth / 1048576).toFixed(1)} MB, after +${(retained / 1048576).toFixed(1)} MB; CPU ${(process.cpuUsage(cpu).user / 1e6).toFixed(1)} s user`;
    if (FULL || failures.length || growth >= RSS_GROWTH_BYTES) console.log([summary, ...failures].join('\n'));
    expect(failures.slice(0, 60), `${failures.length} findings`).toEqual([]);
    expect(growth, `RSS growth while walking; jumps after:\n${jumps.join('\n')}`).toBeLessThan(RSS_GROWTH_BYTES);

    // Healthy afterwards: the health route, and a run end to end.
    const health = await t.api('GET', '/api/health');
    expect(health.status).toBe(200);
    expect(health.body.database).toBe('ok');
    const { runId } = (await api('POST', `/api/flows/${fx.echoFlowId}/run`, { input: { after: 'walk' } })).body;
    expect((await waitForRun(runId)).status).toBe('completed');
  }, FULL ? 3_600_000 : 180_000);
});

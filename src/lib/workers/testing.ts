/**
 * The worker test harness: run one worker without a database, a server or mocks.
 *
 *   const run = await runWorker(WeatherWorker, { input: { location: 'Paris' }, env: { WEATHER_API_KEY: '' } });
 *   expect(run.status).toBe('completed');
 *
 * `runWorker` executes one attempt with the harness as its worker host (src/lib/host), so the
 * worker's real `triggerCallback`, `updateNodeState`, `scheduleCallback`, `reportUsage`,
 * `buildCallbackUrl` and `logWorker` report here instead of to the engine and PostgreSQL. The
 * rules applied are the engine's: input
 * validated against the definition (aliases, defaults), config defaults merged, a sync worker that
 * returns without a callback fails, the first result settles the attempt, a callback's output is
 * merged over what an async worker stored, a vendor payload goes through `parseCallback`.
 *
 * `startFakeVendor(routes)` stands up a vendor API on loopback that records every request.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { NodeConfig, NodeStateUpdate, StreamChunk, WorkerCallback, WorkerDefinition } from '@/types/stitch';
import { ConflictError, NonRetriableError, ValidationError, coerceError } from '@/lib/errors';
import { getConfig } from '@/lib/config';
import { redact, redactString } from '@/lib/log';
import { signedCallbackUrl } from '@/lib/host/attempt';
import { hasCallbackSecret, setCallbackSecret } from '@/lib/host/callback-tokens';
import { runWithHost } from '@/lib/host/current';
import type { WorkerHost } from '@/lib/host/types';
import type { IWorker, PollResult, WorkerClass } from './base';
import { adaptCallback } from './callback-adapter';
import { DEFAULT_TIMEOUT_SECONDS, getWorkerDefinition, workerRegistry } from './registry';
import { validateInput } from './validate-input';

export interface RunWorkerOptions {
  /** The node's input (what upstream nodes delivered). */
  input?: unknown;
  /** The node's `data.config`; merged over the definition's `config` defaults. */
  config?: NodeConfig;
  /**
   * The worker's definition, or its type name in WORKER_DEFINITIONS (the default when the worker
   * is given by type name). With one, input is validated and defaulted and sync/async is known.
   */
  definition?: WorkerDefinition | string;
  /**
   * Environment for this run (e.g. `{ WEATHER_API_KEY: 'k' }`, or `''` to force mock mode even when
   * a .env file sets the key). Applied to process.env while the worker is constructed and executes,
   * then restored — so do not run workers with different `env` concurrently in one test file.
   */
  env?: Record<string, string>;
  runId?: string;
  nodeId?: string;
  attempt?: number;
}

export interface LogLine {
  level: string;
  message: string;
  /** The line's fields, redacted as the real logger redacts them. */
  context: Record<string, unknown>;
}

export interface ScheduledCallbackRecord {
  callback: WorkerCallback;
  delaySeconds: number;
  delivered: boolean;
}

export type DeliveryResult = { ok: true; duplicate?: boolean } | { reply: unknown };

export interface WorkerRun {
  runId: string;
  nodeId: string;
  attempt: number;
  /** `running`: an async worker returned and waits for its callback. */
  status: 'completed' | 'failed' | 'running';
  /** The settled output, merged over what the worker stored with `updateNodeState` (as the engine does). */
  output?: unknown;
  error?: string;
  /** For failures: would the engine retry (per the definition's `retry` policy)? False for NonRetriableError and invalid input. */
  retriable?: boolean;
  /** What `execute` threw, if it threw. */
  thrown?: Error;
  /** The input and config `execute` received (validated, defaulted, merged). */
  input: unknown;
  config: NodeConfig;
  /** Every `triggerCallback` (and final `updateNodeState`), in order; only the first settles. */
  callbacks: WorkerCallback[];
  /** Every `updateNodeState(..., {status: 'running', ...})`: stored output, progress, messages. */
  stateUpdates: NodeStateUpdate[];
  /** Every `scheduleCallback` (async mocks, timers); deliver them with `runScheduled()`. */
  scheduled: ScheduledCallbackRecord[];
  /** Every `streamOutput` chunk, in order (what followers of the run would have seen, uncoalesced). */
  streamed: StreamChunk[];
  /** The streamed text chunks joined (JSON chunks left out). */
  readonly streamedText: string;
  /** Every `reportUsage` line, in order (what the engine would price and record). */
  usage: Array<{ unit: string; quantity: number; mock?: boolean }>;
  /** Every `logWorker` line, including the constructor's (when the harness constructs the worker). */
  logs: LogLine[];
  /** The last URL `buildCallbackUrl` handed out (signed for this run, node and attempt). */
  callbackUrl?: string;
  /**
   * Deliver a callback as if it arrived at the callback URL: a vendor's own payload when the worker
   * has `parseCallback` (awaited; a `{reply, pollNow: true}` runs `poll()` now, as the engine
   * does), else Stitch's `{status, output?, error?}`. Throws ConflictError when the node already
   * settled (the route's 409), ValidationError for a body it cannot read (400), and a StitchError
   * `unavailable` when an async adapter fails for its own reasons (503).
   */
  deliverCallback(body: unknown, options?: { headers?: Record<string, string> }): Promise<DeliveryResult>;
  /** Deliver the callbacks the worker scheduled, as the queue would once their delay passes. */
  runScheduled(): Promise<WorkerRun>;
  /** What happens when the callback deadline passes: the worker's `poll()`, or a timeout failure. */
  expireDeadline(): Promise<WorkerRun>;
}

/** Sets `env` on process.env and returns a function that restores the previous values. */
function applyEnv(env: Record<string, string> | undefined): () => void {
  if (!env) return () => {};
  const previous = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
  Object.assign(process.env, env);
  return () => {
    for (const [k, v] of Object.entries(previous)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  };
}

function resolveDefinition(worker: IWorker | WorkerClass | string, definition: RunWorkerOptions['definition']): WorkerDefinition | undefined {
  const ref = definition ?? (typeof worker === 'string' ? worker : undefined);
  if (typeof ref !== 'string') return ref;
  const found = getWorkerDefinition(ref);
  if (!found) throw new Error(`runWorker: no definition "${ref}" in WORKER_DEFINITIONS (src/lib/workers/registry.ts)`);
  return found;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Run one attempt of a worker (an instance, a class — constructed inside the harness so its
 * mock-mode log line is captured — or a registered type name) and return what it did.
 */
export async function runWorker(worker: IWorker | WorkerClass | string, options: RunWorkerOptions = {}): Promise<WorkerRun> {
  const definition = resolveDefinition(worker, options.definition);
  // buildCallbackUrl signs with the process's callback secret; a test process has none yet.
  if (!hasCallbackSecret()) setCallbackSecret(randomBytes(32).toString('base64url'));
  const checked = definition ? validateInput(definition, options.input) : { input: options.input, problems: [] };
  const run: WorkerRun = {
    runId: options.runId ?? randomUUID(),
    nodeId: options.nodeId ?? 'node',
    attempt: options.attempt ?? 1,
    status: 'running',
    input: checked.input,
    config: { ...definition?.config, ...options.config },
    callbacks: [],
    stateUpdates: [],
    usage: [],
    streamed: [],
    get streamedText() {
      return run.streamed.filter((c): c is string => typeof c === 'string').join('');
    },
    scheduled: [],
    logs: [],
    deliverCallback: (body, opts) => deliverCallback(body, opts?.headers ?? {}),
    runScheduled: async () => {
      for (const s of [...run.scheduled].sort((a, b) => a.delaySeconds - b.delaySeconds)) {
        if (s.delivered) continue;
        s.delivered = true;
        settle(s.callback);
      }
      return run;
    },
    expireDeadline: async () => {
      if (run.status === 'running') await pollOrFail();
      return run;
    },
  };
  let stored: unknown;
  let settledBy: WorkerCallback | undefined;

  function settle(callback: WorkerCallback): boolean {
    if (run.status !== 'running') return false; // the engine's compare-and-set refuses a second result
    settledBy = callback;
    if (callback.status === 'failed') {
      fail(new Error(callback.error || 'The worker reported a failure without a message'));
      return true;
    }
    run.status = 'completed';
    run.output = isObject(stored) && isObject(callback.output) ? { ...stored, ...callback.output } : callback.output;
    return true;
  }

  /** The deadline passed (or a callback asked to poll now): `poll()`, or the timeout failure, as the engine's deadline job. */
  async function pollOrFail(): Promise<void> {
    const deadline = definition?.timeoutSeconds ?? DEFAULT_TIMEOUT_SECONDS;
    if (!instance?.poll) {
      fail(new Error(`No callback arrived within the ${deadline}s callback deadline`));
      return;
    }
    const restore = applyEnv(options.env);
    try {
      const result: PollResult = await runWithHost(host, () => instance!.poll!(run.runId, run.nodeId, run.config, stored));
      if (result.status !== 'running') settle(result);
    } catch (error) {
      fail(new Error(`No callback within the ${deadline}s callback deadline, and polling failed: ${coerceError(error).message}`));
    } finally {
      restore();
    }
  }

  function fail(error: Error): void {
    run.status = 'failed';
    run.error = error.message || 'Unknown error';
    run.retriable = !(error instanceof NonRetriableError);
  }

  const isAsync = definition?.type === 'async';
  const host: WorkerHost = {
    current: {
      runId: run.runId,
      instanceId: run.nodeId,
      attempt: run.attempt,
      workerType: definition?.id ?? (typeof worker === 'string' ? worker : undefined),
      deadlineSeconds: isAsync ? (definition?.timeoutSeconds ?? DEFAULT_TIMEOUT_SECONDS) : undefined,
    },
    async complete(_runId, _nodeId, callback) {
      run.callbacks.push(callback);
      settle(callback);
      return { ok: true };
    },
    async updateNodeState(_runId, _nodeId, state) {
      if (run.status !== 'running') throw new ConflictError(`Node ${run.nodeId} of run ${run.runId} is not running: its state was not updated`);
      run.stateUpdates.push(state);
      if (state.output !== undefined) stored = state.output;
    },
    async scheduleCallback(_runId, _nodeId, callback, delaySeconds) {
      run.scheduled.push({ callback, delaySeconds, delivered: false });
    },
    callbackUrl(runId, nodeId, attempt) {
      // Signed as the engine signs it, so a test can deliver to a real server with the same secret.
      run.callbackUrl = signedCallbackUrl(getConfig().baseUrl, host, runId, nodeId, attempt);
      return run.callbackUrl;
    },
    log(level, message, context) {
      // Redacted as the real logger redacts, so a test sees what a log would show.
      run.logs.push({ level, message: redactString(message), context: redact(context) as Record<string, unknown> });
    },
    async reportUsage(_runId, _nodeId, usage) {
      run.usage.push(...usage);
    },
    stream(_runId, _nodeId, chunk) {
      run.streamed.push(chunk);
    },
  };

  async function deliverCallback(body: unknown, headers: Record<string, string>): Promise<DeliveryResult> {
    let callback: unknown = body;
    if (instance?.parseCallback) {
      const parsed = await adaptCallback(instance, body, headers);
      if ('reply' in parsed) {
        // The engine brings the deadline forward to now; its deadline job then polls.
        if (parsed.pollNow && run.status === 'running') await pollOrFail();
        return { reply: parsed.reply };
      }
      callback = parsed;
    }
    if (!isObject(callback) || (callback.status !== 'completed' && callback.status !== 'failed')) {
      throw new ValidationError('The callback body must be {status: "completed"|"failed", output?, error?}.');
    }
    const cb = callback as unknown as WorkerCallback;
    if (settle(cb)) return { ok: true };
    if (settledBy && JSON.stringify(settledBy) === JSON.stringify(cb)) return { ok: true, duplicate: true };
    throw new ConflictError(`Node ${run.nodeId} is ${run.status}; a ${cb.status} callback changes nothing.`);
  }

  if (checked.problems.length) {
    fail(new NonRetriableError(`Invalid input for ${definition!.name}: ${checked.problems.join('; ')}`));
    return run;
  }

  let instance: IWorker | undefined;
  const restoreEnv = applyEnv(options.env);
  try {
    await runWithHost(host, async () => {
      instance = construct(worker);
      await instance.execute(run.runId, run.nodeId, run.config, run.input);
    });
  } catch (error) {
    run.thrown = coerceError(error);
    if (run.status === 'running') fail(run.thrown);
  } finally {
    restoreEnv();
  }
  // Without a definition, a worker that stored state, scheduled a result or handed out a callback URL is async.
  const waits = isAsync || (!definition && (run.stateUpdates.length > 0 || run.scheduled.length > 0 || run.callbackUrl !== undefined));
  if (run.status === 'running' && !waits) {
    fail(new Error(`Worker returned without calling triggerCallback (sync workers must report their result)`));
  }
  return run;
}

/** An instance for the harness: classes and registered types are constructed now, inside the harness. */
function construct(worker: IWorker | WorkerClass | string): IWorker {
  if (typeof worker === 'function') return new worker();
  if (typeof worker === 'string') {
    const registered = workerRegistry.getWorker(worker);
    return new (registered.constructor as WorkerClass)();
  }
  return worker;
}

// ───────────────────────────── Fake vendor HTTP server ─────────────────────────────

export interface FakeRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  /** Lower-cased header names. */
  headers: Record<string, string>;
  /** Parsed JSON when the body is JSON, else the text ('' for none). */
  body: unknown;
  /** The route's path parameters: `{id: 'fv-1'}` for `'GET /v2/transcript/:id'` and `/v2/transcript/fv-1` (`{}` otherwise). */
  params: Record<string, string>;
}

export interface FakeResponse {
  status?: number;
  /** Sent as JSON. */
  json?: unknown;
  /** Sent as text (when `json` is absent). */
  text?: string;
  headers?: Record<string, string>;
}

/** A fixed response, or a function of the request. */
export type FakeRoute = FakeResponse | ((request: FakeRequest) => FakeResponse | Promise<FakeResponse>);

export interface FakeVendor {
  /** `http://127.0.0.1:<port>`, no trailing slash. */
  url: string;
  /** Every request received, in order (unmatched ones too). */
  requests: FakeRequest[];
  close(): Promise<void>;
}

export interface FakeServerOptions {
  /** Port on 127.0.0.1 (default: a free one). */
  port?: number;
  /** Told of each request as it arrives (after it is recorded). */
  onRequest?: (request: FakeRequest) => void;
  /** Told of each handler that threw (the request was answered 500). */
  onError?: (error: Error, request: FakeRequest) => void;
}

/** Read a request whole: method, path, query, lower-cased headers and (JSON-parsed) body. */
export async function readFakeRequest(req: IncomingMessage): Promise<FakeRequest> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  let body: unknown = text;
  if (text) {
    try {
      body = JSON.parse(text);
    } catch {
      // not JSON: keep the text
    }
  }
  const url = new URL(req.url ?? '/', 'http://127.0.0.1');
  const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(', ') : (v ?? '')]));
  return { method: req.method ?? 'GET', path: url.pathname, query: Object.fromEntries(url.searchParams), headers, body, params: {} };
}

/**
 * An HTTP server on loopback that records every request and hands it, read whole, to `handler`,
 * which writes the raw response (or never does, to simulate a timeout: `close()` drops the
 * connection). A handler that throws answers 500 (and is passed to `onError`). `startFakeVendor` is built on it.
 */
export async function startRecordingServer(
  handler: (request: FakeRequest, res: ServerResponse) => void | Promise<void>,
  options: FakeServerOptions = {},
): Promise<FakeVendor> {
  const requests: FakeRequest[] = [];
  const server: Server = createServer((req, res) => {
    void (async () => {
      const request = await readFakeRequest(req);
      requests.push(request);
      options.onRequest?.(request);
      try {
        await handler(request, res);
      } catch (error) {
        options.onError?.(coerceError(error), request);
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify({ error: coerceError(error).message }));
      }
    })();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A route key's path as a pattern: `:name` segments capture one path segment each. */
function pathParams(pattern: string, path: string): Record<string, string> | undefined {
  const want = pattern.split('/');
  const got = path.split('/');
  if (want.length !== got.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < want.length; i++) {
    if (want[i].startsWith(':') && want[i].length > 1 && got[i] !== '') params[want[i].slice(1)] = decodeURIComponent(got[i]);
    else if (want[i] !== got[i]) return undefined;
  }
  return params;
}

/**
 * The route for a request, and its path parameters: an exact key first (`'POST /v1/jobs'`, then
 * `'/v1/jobs'` for any method), then keys with `:name` segments, in the order they were written.
 */
export function matchFakeRoute(routes: Record<string, FakeRoute>, method: string, path: string): { route: FakeRoute; params: Record<string, string> } | undefined {
  const exact = routes[`${method} ${path}`] ?? routes[path];
  if (exact !== undefined) return { route: exact, params: {} };
  for (const [key, route] of Object.entries(routes)) {
    if (!key.includes(':')) continue;
    const space = key.indexOf(' ');
    const [keyMethod, pattern] = space > 0 ? [key.slice(0, space), key.slice(space + 1)] : [undefined, key];
    if (keyMethod !== undefined && keyMethod !== method) continue;
    const params = pathParams(pattern, path);
    if (params) return { route, params };
  }
  return undefined;
}

/**
 * A vendor API on loopback. Routes are keyed `'POST /v1/jobs'` (or just `'/v1/jobs'` for any
 * method); `:name` segments match any one segment and arrive in `request.params`
 * (`'GET /v2/transcript/:id'`). An unknown route answers 404. A route that throws answers 500.
 */
export function startFakeVendor(routes: Record<string, FakeRoute>, options: FakeServerOptions = {}): Promise<FakeVendor> {
  return startRecordingServer(async (request, res) => {
    const match = matchFakeRoute(routes, request.method, request.path);
    if (match) request.params = match.params;
    const route = match?.route;
    const response: FakeResponse =
      route === undefined
        ? { status: 404, json: { error: `no fake route for ${request.method} ${request.path}` } }
        : typeof route === 'function'
          ? await route(request)
          : route;
    const isJson = response.json !== undefined;
    res.writeHead(response.status ?? 200, { ...(isJson ? { 'content-type': 'application/json' } : {}), ...response.headers });
    res.end(isJson ? JSON.stringify(response.json) : (response.text ?? ''));
  }, options);
}

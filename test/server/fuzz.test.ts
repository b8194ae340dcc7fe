/**
 * Fuzz of every POST/PUT route with fast-check (2,500 cases): random JSON, wrong types, huge
 * strings, deep nesting, invalid graphs and odd path parameters. Properties: never a 5xx, the
 * server keeps answering, every error is `{error:{code,message}}`, and a rejected request changes
 * nothing in the database. No queue runner here, so nothing changes in the background.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getPool } from '@/lib/db/pool';
import { createCallbackToken } from '@/lib/host/callback-tokens';
import { signBody } from '@/server/routes/webhooks';
import { graph } from '../helpers';
import { startTestServer, type TestServer } from './http';
import { registerHttpTestWorkers } from './test-workers';

let t: TestServer;
let flowId: string;
let runId: string;
let hook: { slug: string; secret: string };

beforeAll(async () => {
  registerHttpTestWorkers();
  t = await startTestServer({ runner: false });
  const flow = await t.api('POST', '/api/flows', { name: 'fuzz', graph: graph(['s:start', 'a:echo', 'e:end'], [['s', 'a'], ['a', 'e']]) });
  flowId = flow.body.id;
  runId = (await t.api('POST', `/api/flows/${flowId}/run`, {})).body.runId;
  hook = (await t.api('POST', `/api/flows/${flowId}/triggers`, {})).body;
});
afterAll(() => t?.close());

/** A fingerprint of every table a request could change. */
async function fingerprint(): Promise<string> {
  const { rows } = await getPool().query(`SELECT
      (SELECT count(*) || '/' || coalesce(max(updated_at)::text, '') || '/' || count(deleted_at) FROM stitch_flows) AS flows,
      (SELECT count(*) FROM stitch_flow_versions) AS versions,
      (SELECT count(*) || '/' || coalesce(max(updated_at)::text, '') FROM stitch_runs) AS runs,
      (SELECT count(*) || '/' || coalesce(max(updated_at)::text, '') FROM stitch_node_runs) AS nodes,
      (SELECT coalesce(max(id), 0) FROM stitch_events) AS events,
      (SELECT count(*) || '/' || count(deleted_at) FROM stitch_triggers) AS triggers,
      (SELECT count(*) FROM stitch_webhook_deliveries) AS deliveries,
      (SELECT count(*) FROM graphile_worker.jobs) AS jobs`);
  return JSON.stringify(rows[0]);
}

const deep = (depth: number, leaf: string) => '['.repeat(depth) + leaf + ']'.repeat(depth);

/** Bodies: random JSON values, raw text, huge strings, deep nesting, near-miss shapes. */
const anyBody = fc.oneof(
  { weight: 4, arbitrary: fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v) ?? 'null') },
  { weight: 2, arbitrary: fc.string({ maxLength: 200 }) },
  { weight: 1, arbitrary: fc.integer({ min: 10_000, max: 1_200_000 }).map((n) => JSON.stringify({ name: 'x'.repeat(n), graph: { nodes: [], edges: [] } })) },
  { weight: 1, arbitrary: fc.integer({ min: 100, max: 50_000 }).map((d) => deep(d, '1')) },
  { weight: 1, arbitrary: fc.integer({ min: 100, max: 20_000 }).map((d) => `{"name":"deep","input":${deep(d, '{}')},"graph":{"nodes":[],"edges":[]}}`) },
  { weight: 1, arbitrary: fc.constantFrom('', '{', '{"status":', '\u0000', '{"a":1}{"b":2}', 'null', '[]', '{"__proto__":{"x":1}}') },
);

const nodeId = fc.oneof(fc.constantFrom('s', 'a', 'e', 'start'), fc.string({ maxLength: 12 }), fc.integer());
const fuzzGraph = fc.record(
  {
    nodes: fc.array(
      fc.record(
        {
          id: nodeId,
          type: fc.oneof(fc.constantFrom('start', 'worker', 'end', 'ux', 'splitter', 'collector', 'switch', 'Worker', 'bogus'), fc.integer()),
          position: fc.record({ x: fc.integer(), y: fc.integer() }),
          data: fc.oneof(
            fc.record({ workerType: fc.constantFrom('echo', 'transform', 'wait', 'nope', ''), config: fc.jsonValue({ maxDepth: 2 }) }, { requiredKeys: [] }),
            fc.jsonValue({ maxDepth: 2 }),
          ),
        },
        { requiredKeys: [] },
      ),
      { maxLength: 8 },
    ),
    edges: fc.array(fc.record({ id: fc.string({ maxLength: 4 }), source: nodeId, target: nodeId, data: fc.jsonValue({ maxDepth: 2 }) }, { requiredKeys: [] }), { maxLength: 10 }),
  },
  { requiredKeys: [] },
);
const graphBody = fc.record({ name: fc.oneof(fc.string({ maxLength: 30 }), fc.integer(), fc.constant(undefined)), graph: fc.oneof(fuzzGraph, fc.jsonValue({ maxDepth: 2 })) }).map((b) => JSON.stringify(b));

const encodedSegment = fc.oneof(
  fc.constantFrom('00000000-0000-4000-8000-000000000000', 'not-a-uuid', '..', '%2e%2e', 'a%2Fb', '%00', 'x'.repeat(300)),
  fc.string({ minLength: 1, maxLength: 20 }).map(encodeURIComponent),
);
const contentType = fc.constantFrom('application/json', 'text/plain', 'application/x-www-form-urlencoded', undefined);

let previous = '';
async function send(method: string, path: string, body: string, type: string | undefined, headers: Record<string, string> = {}) {
  let response: Response;
  try {
    response = await fetch(t.url + path, { method, body, headers: { ...(type ? { 'content-type': type } : {}), ...headers } });
  } catch (e) {
    throw new Error(`fetch failed; previous request: ${previous}`, { cause: e });
  }
  previous = `${method} ${path} ${type} ${body.length} ${body.slice(0, 100)}`;
  const text = await response.text();
  return { status: response.status, text };
}

/** Send, then check: no 5xx, error shape, and no state change unless the request succeeded. */
async function check(method: string, path: string, body: string, type: string | undefined, headers?: Record<string, string>) {
  const before = await fingerprint();
  const res = await send(method, path, body, type, headers);
  expect(res.status, `${method} ${path} ${body.slice(0, 200)}`).toBeLessThan(500);
  if (res.status >= 400) {
    expect(JSON.parse(res.text)).toMatchObject({ error: { code: expect.any(String), message: expect.any(String) } });
    expect(await fingerprint(), `${method} ${path} changed state with ${res.status}`).toBe(before);
  }
}

const params = { numRuns: 500, endOnFailure: true };

describe('fuzz: no 5xx, no change on rejection', () => {
  it('POST /api/flows and PUT /api/flows/:id with random bodies and graphs', async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(anyBody, graphBody), contentType, fc.boolean(), async (body, type, put) => {
        await check(put ? 'PUT' : 'POST', put ? `/api/flows/${flowId}` : '/api/flows', body, type);
      }),
      params,
    );
  });

  it('run, cancel, retry and complete with random bodies and ids', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('run', 'canvas', 'cancel', 'retry', 'complete', 'triggers'),
        fc.oneof(fc.constant(flowId), fc.constant(runId), encodedSegment),
        fc.oneof(fc.constantFrom('s', 'a', 'e'), encodedSegment),
        anyBody,
        contentType,
        async (route, id, node, body, type) => {
          const path = {
            run: `/api/flows/${id}/run`,
            canvas: `/api/canvas/${id}/run`,
            cancel: `/api/runs/${id === flowId ? runId + 'x' : id}/cancel`,
            retry: `/api/stitch/retry/${id}/${node}`,
            complete: `/api/stitch/complete/${id}/${node}`,
            triggers: `/api/flows/${id}/triggers`,
          }[route];
          await check('POST', path, body, type);
        },
      ),
      params,
    );
  });

  it('callbacks with random bodies, tokens and ids', async () => {
    const validToken = createCallbackToken(runId, 'a', 1, 600);
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(fc.constant(runId), encodedSegment),
        fc.oneof(fc.constantFrom('a', 's', 'zz'), encodedSegment),
        fc.oneof(fc.constant(undefined), fc.constant(validToken), fc.string({ maxLength: 80 }).map(encodeURIComponent)),
        fc.oneof(anyBody, fc.record({ status: fc.oneof(fc.constantFrom('failed', 'running', 'COMPLETED'), fc.integer()), error: fc.jsonValue({ maxDepth: 1 }) }).map((b) => JSON.stringify(b))),
        contentType,
        async (run, node, token, body, type) => {
          await check('POST', `/api/stitch/callback/${run}/${node}${token === undefined ? '' : `?token=${token}`}`, body, type);
        },
      ),
      params,
    );
  });

  it('webhooks with random bodies, slugs and signatures (sometimes valid)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(fc.constant(hook.slug), encodedSegment),
        anyBody,
        fc.constantFrom('valid', 'none', 'garbage', 'other'),
        contentType,
        async (slug, body, signature, type) => {
          const header = { valid: signBody(hook.secret, body), none: undefined, garbage: 'sha256=nope', other: signBody('other', body) }[signature];
          await check('POST', `/api/webhooks/${slug}`, body, type, header ? { 'x-stitch-signature': header } : {});
        },
      ),
      params,
    );
  });

  it('random methods and paths under /api', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('POST', 'PUT', 'DELETE', 'PATCH'),
        fc.array(encodedSegment, { minLength: 1, maxLength: 4 }),
        anyBody,
        async (method, segments, body) => {
          await check(method, `/api/${segments.join('/')}`, body, 'application/json');
        },
      ),
      params,
    );
    // Still up.
    expect((await t.api('GET', '/api/health')).status).toBe(200);
  });
});

/**
 * Issue 10, parts B and C: bad input that hurt the server, and ways in without a key. Each test
 * reproduces one finding over real HTTP and checks the answer and that nothing changed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import { getPool } from '@/lib/db/pool';
import { eventually, graph } from '../helpers';
import { startTestServer, type TestServer } from './http';
import { callbackPath, registerHttpTestWorkers } from './test-workers';

let t: TestServer;

beforeAll(async () => {
  registerHttpTestWorkers();
  t = await startTestServer();
});
afterAll(() => t?.close());

async function newFlow(): Promise<string> {
  const g = graph(['s:start', 'w:vendor', 'e:end'], [['s', 'w'], ['w', 'e']]);
  return (await t.api('POST', '/api/flows', { name: `hostile-${Math.random()}`, graph: g })).body.id;
}

async function runCount(): Promise<number> {
  return (await getPool().query('SELECT count(*)::int AS n FROM stitch_runs')).rows[0].n;
}

/** A raw request with full control over Host and the other headers (fetch forbids setting Host). */
function raw(method: string, path: string, headers: Record<string, string>, body?: string): Promise<{ status: number; body: any }> {
  const url = new URL(t.url);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: url.hostname, port: url.port, method, path, headers }, (res) => {
      let text = '';
      res.on('data', (d) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode!, body: text ? JSON.parse(text) : undefined }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('A.2 every node setting is checked at save', () => {
  const save = (g: unknown) => t.api('POST', '/api/flows', { name: `settings-${Math.random()}`, graph: g });
  it('the three configs that saved and then never ended → 400 validation_failed naming the field', async () => {
    const cases: Array<[unknown, string]> = [
      [graph(['s:start', { id: 'w', workerType: 'wait', timeoutSeconds: 1e308 }, 'e:end'], [['s', 'w'], ['w', 'e']]), 'timeoutSeconds'],
      [graph(['s:start', { id: 'n', workerType: 'echo', retry: { attempts: 3, maxBackoffMs: 'x' } }, 'e:end'], [['s', 'n'], ['n', 'e']]), 'retry.maxBackoffMs'],
      [
        graph(
          ['s:start', { id: 'sw', type: 'switch', config: { cases: [{ name: 'one', when: 'a == 1 or '.repeat(40_000) + 'a == 2' }] } }, 'e:end'],
          [['s', 'sw'], { source: 'sw', target: 'e', sourceHandle: 'one' }],
        ),
        'cases.0.when',
      ],
      [graph(['s:start', { id: 'w', workerType: 'wait', config: { seconds: 1e300 } }, 'e:end'], [['s', 'w'], ['w', 'e']]), 'config.seconds'],
      [graph(['s:start', { id: 'n', workerType: 'echo', retry: { attempts: 0.5 } }, 'e:end'], [['s', 'n'], ['n', 'e']]), 'retry.attempts'],
      [
        graph(
          ['s:start', { id: 'sw', type: 'switch', config: { cases: [{ name: 'one', when: '('.repeat(40) + 'a == 1' + ')'.repeat(40) }] } }, 'e:end'],
          [['s', 'sw'], { source: 'sw', target: 'e', sourceHandle: 'one' }],
        ),
        'cases.0.when',
      ],
    ];
    for (const [g, field] of cases) {
      const res = await save(g);
      expect(res.status, field).toBe(400);
      expect(res.body.error.code).toBe('validation_failed');
      expect(res.body.error.details.map((d: { field?: string }) => d.field)).toContain(field);
    }
  });
});

describe('B.9 ids that are Object.prototype names', () => {
  it('save and run over HTTP: no 500, no false duplicate, every node completes', async () => {
    const g = graph(
      ['constructor:start', 'toString:echo', '__proto__:echo', 'hasOwnProperty:end'],
      [['constructor', 'toString'], ['constructor', '__proto__'], ['toString', 'hasOwnProperty'], ['__proto__', 'hasOwnProperty']],
    );
    const saved = await t.api('POST', '/api/flows', { name: `proto-${Math.random()}`, graph: g });
    expect(saved.status).toBe(201);
    const started = await t.api('POST', `/api/flows/${saved.body.id}/run`, { input: { x: 1 } });
    expect(started.status).toBe(202);
    const run = await eventually(async () => {
      const r = await t.api('GET', `/api/runs/${started.body.runId}`);
      return r.body.status === 'completed' && r.body;
    });
    expect(Object.keys(run.nodes).sort()).toEqual(['__proto__', 'constructor', 'hasOwnProperty', 'toString']);
    expect(run.output).toMatchObject({ x: 1 });
  });
});

describe('B.10 numbers beyond a double', () => {
  it('1e400 in a run input → 400 naming the field, and no run is created', async () => {
    const flowId = await newFlow();
    const before = await runCount();
    const res = await t.api('POST', `/api/flows/${flowId}/run`, '{"input": {"n": 1e400}}');
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('validation_failed');
    expect(res.body.error.details[0].field).toBe('n');
    expect(await runCount()).toBe(before);
  });
});

describe('B.11 / B.12 callbacks', () => {
  async function runningVendorNode() {
    const flowId = await newFlow();
    const { body } = await t.api('POST', `/api/flows/${flowId}/run`, { input: { keep: 1 } });
    await eventually(async () => (await t.api('GET', `/api/runs/${body.runId}`)).body.nodes.w?.status === 'running');
    const path = await eventually(async () => {
      try {
        return callbackPath(body.runId, 'w');
      } catch {
        return undefined;
      }
    });
    return { runId: body.runId as string, path };
  }

  it('an output that is not an object (string, array, number, null) → 400 and the stored input stays', async () => {
    const { runId, path } = await runningVendorNode();
    const before = (await t.api('GET', `/api/runs/${runId}`)).body.nodes.w;
    for (const output of ['text', [1, 2], 42, null]) {
      const res = await t.api('POST', path, { status: 'completed', output });
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('validation_failed');
    }
    const after = (await t.api('GET', `/api/runs/${runId}`)).body.nodes.w;
    expect(after.status).toBe('running');
    expect(after.output).toEqual(before.output);
  });

  it('accepts exactly one spelling of a token: leading zeros → 401', async () => {
    const { runId, path } = await runningVendorNode();
    const url = new URL(`http://x${path}`);
    const token = url.searchParams.get('token')!;
    const [attempt, expiry, sig] = token.split('.');
    for (const variant of [`0${attempt}.${expiry}.${sig}`, `${attempt}.0${expiry}.${sig}`, `00${attempt}.${expiry}.${sig}`]) {
      url.searchParams.set('token', variant);
      const res = await t.api('POST', url.pathname + url.search, { status: 'completed', output: { x: 1 } });
      expect(res.status).toBe(401);
    }
    expect((await t.api('GET', `/api/runs/${runId}`)).body.nodes.w.status).toBe('running');
    const ok = await t.api('POST', path, { status: 'completed', output: { x: 1 } });
    expect(ok.status).toBe(200);
  });
});

describe('B.14 the database\'s own words stay in the log', () => {
  it('invalid_data answers a plain message, never the PostgreSQL text', async () => {
    const flowId = await newFlow();
    const res = await t.api('POST', `/api/flows/${flowId}/run`, { input: { text: 'nul \u0000 byte' } });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('invalid_data');
    expect(JSON.stringify(res.body)).not.toMatch(/unsupported Unicode|\\\\u0000|jsonb|escape sequence/i);
  });
});

describe('C.16 without an API key, no way in for other sites', () => {
  it('answers loopback host names (with any port) and refuses any other Host with 403 (DNS rebinding)', async () => {
    const port = new URL(t.url).port;
    for (const host of [`localhost:${port}`, `127.0.0.1:${port}`, `[::1]:${port}`, 'localhost']) {
      expect((await raw('GET', '/api/flows', { host })).status).toBe(200);
    }
    for (const host of ['evil.example', `evil.example:${port}`, `attacker.localhost.evil:${port}`]) {
      const res = await raw('GET', '/api/flows', { host });
      expect(res.status).toBe(403);
      expect(res.body.error.code).toBe('forbidden');
    }
  });

  it('refuses state-changing requests a browser marks cross-site (Origin, Sec-Fetch-Site) with 403, starting nothing', async () => {
    const flowId = await newFlow();
    const before = await runCount();
    const host = new URL(t.url).host;
    const attempts: Array<Record<string, string>> = [
      { host, origin: 'http://evil.example' },
      { host, 'sec-fetch-site': 'cross-site' },
      { host, origin: 'null' },
    ];
    for (const headers of attempts) {
      expect((await raw('POST', `/api/flows/${flowId}/run`, headers)).status).toBe(403);
      expect((await raw('POST', `/api/flows/${flowId}/triggers`, headers)).status).toBe(403);
    }
    expect(await runCount()).toBe(before);
    const { rows } = await getPool().query('SELECT count(*)::int AS n FROM stitch_triggers WHERE flow_id = $1', [flowId]);
    expect(rows[0].n).toBe(0);
    // The canvas's own requests (same origin) still work, at localhost and at 127.0.0.1.
    for (const h of [host, host.replace('127.0.0.1', 'localhost')]) {
      const res = await raw('POST', `/api/flows/${flowId}/run`, { host: h, origin: `http://${h}`, 'sec-fetch-site': 'same-origin', 'content-type': 'application/json' }, '{"input":{}}');
      expect(res.status).toBe(202);
    }
  });
});

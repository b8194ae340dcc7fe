/**
 * The credentials vault end to end: the HTTP API (write-only values, 400s), encryption at rest,
 * rotation without a restart (a value written by this process, and one written by "another
 * process" straight into the table, each apply to the next node execution), the planted-secret
 * search (logs, events, SSE, run output, errors, metrics, OpenAPI), and where doctor and the
 * palette say each key comes from.
 */
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getConfig } from '@/lib/config';
import { getPool } from '@/lib/db/pool';
import { updateNodeState } from '@/lib/db/runs';
import { createLogger, getLogger, setLogger } from '@/lib/log';
import { encryptSecret, generateKeyText, parseKey } from '@/lib/vault/cipher';
import { vaultValue } from '@/lib/vault/values';
import { logWorker, reportUsage, triggerCallback } from '@/lib/workers/utils';
import { WORKER_DEFINITIONS, workerRegistry } from '@/lib/workers/registry';
import { runDoctor } from '@/cli/commands/doctor';
import { eventually, graph, registerTestWorker, waitForRun } from '../helpers';
import { startTestServer, type TestServer } from './http';

const KEY_TEXT = generateKeyText();
let t: TestServer;

/** A worker written the seed's way: its key read once, in the constructor, from getConfig().workers. */
class RotatingWorker {
  readonly key = getConfig().workers.rotatingApiKey;
  async execute(runId: string, nodeId: string, _config: unknown, input: Record<string, unknown>) {
    await triggerCallback(runId, nodeId, { status: 'completed', output: { ...input, keyTail: this.key ? this.key.slice(-4) : 'mock' } });
  }
}

let leakySaw: string | undefined;
/** A careless worker: logs its key, fails its first attempt with an error quoting it, reports progress quoting it, then outputs it. */
class LeakyWorker {
  readonly key = getConfig().workers.plantedApiKey;
  async execute(runId: string, nodeId: string, _config: unknown, input: Record<string, unknown>) {
    leakySaw = this.key;
    logWorker('info', `calling the vendor with ${this.key}`, { worker: 'leaky', detail: this.key, auth: `Bearer ${this.key}` });
    const { rows } = await getPool().query('SELECT attempt FROM stitch_node_runs WHERE run_id = $1 AND instance_id = $2', [runId, nodeId]);
    if (rows[0].attempt === 1) throw new Error(`vendor refused key ${this.key}`);
    await updateNodeState(runId, nodeId, { status: 'running', metadata: { progress: 0.5, message: `still using ${this.key}`, key: this.key } });
    await triggerCallback(runId, nodeId, { status: 'completed', output: { ...input, echo: this.key, nested: [{ header: `x-key: ${this.key}` }] } });
  }
}

/** A worker that holds its key across a rotation: it waits for the test, then fails quoting the key it was built with. */
const holding: { started?: () => void; release?: Promise<void> } = {};
class HoldingWorker {
  readonly key = getConfig().workers.holdingApiKey;
  async execute() {
    holding.started?.();
    await holding.release;
    throw new Error(`vendor refused key ${this.key}`);
  }
}

/** A worker that outputs its key in the shapes a careless worker or a vendor SDK produces. */
class ShapesWorker {
  readonly key = getConfig().workers.shapesApiKey!;
  async execute(runId: string, nodeId: string) {
    const key = this.key;
    let deep: unknown = { key };
    for (let i = 0; i < 80; i++) deep = { d: deep };
    const bare = Object.assign(Object.create(null), { key });
    class VendorResponse {
      constructor(readonly headers = { authorization: `Basic ${Buffer.from(`user:${key}`).toString('base64')}` }) {}
    }
    const shapes = {
      deep,
      bare,
      vendor: new VendorResponse(),
      url: `https://vendor.test/v1?api_token=x&k=${encodeURIComponent(key)}`,
      base64: Buffer.from(key).toString('base64'),
      escaped: JSON.stringify({ body: JSON.stringify({ key }) }),
    };
    await updateNodeState(runId, nodeId, { status: 'running', metadata: { progress: 0.5, message: shapes.url, shapes } });
    await triggerCallback(runId, nodeId, { status: 'completed', output: shapes });
  }
}

async function runOnce(workerType: string): Promise<any> {
  const created = await t.api('POST', '/api/flows', { name: `f-${workerType}-${Math.random()}`, graph: graph(['start:start', `w:${workerType}`, 'end:end'], [['start', 'w'], ['w', 'end']]) });
  const started = await t.api('POST', `/api/flows/${created.body.id}/run`, { input: {} });
  return waitForRun(started.body.runId);
}

beforeAll(async () => {
  registerTestWorker('rotating', RotatingWorker as any);
  registerTestWorker('leaky', LeakyWorker as any, { retry: { attempts: 2, backoffMs: 10, maxBackoffMs: 10 } });
  registerTestWorker('holding', HoldingWorker as any, { retry: { attempts: 1, backoffMs: 10, maxBackoffMs: 10 } });
  registerTestWorker('shapes', ShapesWorker as any);
  t = await startTestServer({ env: { STITCH_ENCRYPTION_KEY: KEY_TEXT } });
}, 60_000);
afterAll(async () => {
  await t?.close();
  for (const type of ['rotating', 'leaky', 'holding', 'shapes']) {
    workerRegistry.unregister(type);
    delete WORKER_DEFINITIONS[type];
  }
});

describe('credentials API', () => {
  it('stores values encrypted and never returns them; lists names with updatedAt and usedBy; deletes', async () => {
    const put = await t.api('PUT', '/api/credentials/ANTHROPIC_API_KEY', { value: 'sk-ant-test-0123456789' });
    expect(put.status).toBe(201);
    expect(put.body).toEqual({ name: 'ANTHROPIC_API_KEY', updatedAt: expect.any(String), usedBy: ['claude'] });
    expect((await t.api('PUT', '/api/credentials/ANTHROPIC_API_KEY', { value: 'sk-ant-test-9876543210' })).status).toBe(200);

    const list = await t.api('GET', '/api/credentials');
    expect(list.body).toEqual({ credentials: [{ name: 'ANTHROPIC_API_KEY', updatedAt: expect.any(String), usedBy: ['claude'] }], nextCursor: null });
    expect(JSON.stringify(list.body)).not.toContain('sk-ant');

    // The stored bytes themselves are searched (random ciphertext may hold bytes no text encoding accepts).
    const { rows } = await getPool().query(
      "SELECT row_to_json(c)::text AS row, position(convert_to('sk-ant', 'UTF8') IN ciphertext) AS at FROM stitch_credentials c",
    );
    expect(rows[0].row).not.toContain('sk-ant');
    expect(rows[0].at).toBe(0);
    expect(JSON.stringify((await getPool().query('SELECT * FROM stitch_settings')).rows)).not.toContain(parseKey(KEY_TEXT).toString('base64').slice(0, 20));

    expect((await t.api('DELETE', '/api/credentials/ANTHROPIC_API_KEY')).status).toBe(200);
    expect((await t.api('DELETE', '/api/credentials/ANTHROPIC_API_KEY')).status).toBe(404);
    expect((await t.api('GET', '/api/credentials')).body).toEqual({ credentials: [], nextCursor: null });
  });

  it('refuses bad names and values with a 400, and a GET of one value does not exist', async () => {
    for (const [name, body] of [
      ['lower_case', { value: 'v-0123456789' }],
      ['HAS-DASH', { value: 'v-0123456789' }],
      ['OK_NAME', { value: '' }],
      ['OK_NAME', { value: ' padded ' }],
      ['OK_NAME', { value: 42 }],
      ['OK_NAME', {}],
    ] as const) {
      const r = await t.api('PUT', `/api/credentials/${name}`, body);
      expect(r.status, `${name} ${JSON.stringify(body)}`).toBe(400);
    }
    expect([404, 405]).toContain((await t.api('GET', '/api/credentials/OK_NAME')).status);
    expect((await t.api('GET', '/api/credentials')).body).toEqual({ credentials: [], nextCursor: null });
  });
});

describe('rotation without a restart', () => {
  it('a changed value applies to the next node execution, whichever process wrote it', async () => {
    expect((await runOnce('rotating')).output.keyTail).toBe('mock');
    await t.api('PUT', '/api/credentials/ROTATING_API_KEY', { value: 'rotating-value-1111' });
    expect((await runOnce('rotating')).output.keyTail).toBe('1111');

    // Another process (same key, same database) replaces the value: only the table and its NOTIFY link them.
    const sealed = encryptSecret(parseKey(KEY_TEXT), 'ROTATING_API_KEY', 'rotating-value-2222');
    await getPool().query('UPDATE stitch_credentials SET iv = $2, ciphertext = $3, auth_tag = $4, updated_at = now() WHERE name = $1', [
      'ROTATING_API_KEY',
      sealed.iv,
      sealed.ciphertext,
      sealed.authTag,
    ]);
    expect((await runOnce('rotating')).output.keyTail).toBe('2222');

    await t.api('DELETE', '/api/credentials/ROTATING_API_KEY');
    expect((await runOnce('rotating')).output.keyTail).toBe('mock');
  });
});

describe('a planted value', () => {
  it('appears in no log line, event, SSE message, run output, error, metric or OpenAPI document', async () => {
    const planted = `planted-${Math.random().toString(36).slice(2)}-secret`;
    const lines: string[] = [];
    const previous = getLogger();
    setLogger(createLogger('debug', new Writable({ write: (chunk, _e, done) => (lines.push(String(chunk)), done()) })));
    try {
      await t.api('PUT', '/api/credentials/PLANTED_API_KEY', { value: planted });
      const run = await runOnce('leaky');
      expect(leakySaw).toBe(planted); // the worker did get the value, and tried to leak it
      expect(run.status).toBe('completed');
      expect(JSON.stringify(run)).toContain('[redacted]');

      const seen: Record<string, string> = {
        logs: lines.join(''),
        run: JSON.stringify((await t.api('GET', `/api/runs/${run.id}`)).body),
        runs: JSON.stringify((await t.api('GET', '/api/runs?limit=100')).body),
        events: JSON.stringify((await getPool().query('SELECT * FROM stitch_events WHERE run_id = $1', [run.id])).rows),
        nodes: JSON.stringify((await getPool().query('SELECT * FROM stitch_node_runs WHERE run_id = $1', [run.id])).rows),
        sse: await readSse(`/api/runs/${run.id}/events`),
        metrics: String((await t.api('GET', '/metrics')).body),
        openapi: JSON.stringify((await t.api('GET', '/api/openapi.json')).body),
        credentials: JSON.stringify((await t.api('GET', '/api/credentials')).body),
        badPut: JSON.stringify((await t.api('PUT', '/api/credentials/bad-name', { value: planted })).body),
        badJson: JSON.stringify((await t.api('PUT', '/api/credentials/PLANTED_API_KEY', `{"value": "${planted}"`)).body),
      };
      expect(seen.logs).toContain('calling the vendor with [redacted]');
      expect(seen.sse).toContain('run:completed');
      expect(seen.events).toContain('still using [redacted]'); // the progress message
      expect(seen.events).toContain('vendor refused key [redacted]'); // attempt 1's error, recorded
      for (const [where, text] of Object.entries(seen)) expect(text.includes(planted), `the planted value appears in ${where}`).toBe(false);
    } finally {
      setLogger(previous);
      await t.api('DELETE', '/api/credentials/PLANTED_API_KEY');
    }
  });
});

/** Log lines, the run in the API, its rows and events, and its SSE stream: where a value must not appear. */
async function everythingAbout(runId: string, lines: string[]): Promise<Record<string, string>> {
  const rows = async (table: string) => JSON.stringify((await getPool().query(`SELECT * FROM ${table} WHERE run_id = $1`, [runId])).rows);
  return {
    logs: lines.join(''),
    run: JSON.stringify((await t.api('GET', `/api/runs/${runId}`)).body),
    runs: JSON.stringify((await getPool().query('SELECT * FROM stitch_runs WHERE id = $1', [runId])).rows),
    nodes: await rows('stitch_node_runs'),
    events: await rows('stitch_events'),
    sse: await readSse(`/api/runs/${runId}/events`),
  };
}

async function withLogLines<T>(fn: (lines: string[]) => Promise<T>): Promise<T> {
  const lines: string[] = [];
  const previous = getLogger();
  setLogger(createLogger('debug', new Writable({ write: (chunk, _e, done) => (lines.push(String(chunk)), done()) })));
  try {
    return await fn(lines);
  } finally {
    setLogger(previous);
  }
}

/** Another process's change: only the table (and its NOTIFY) links it to this one. */
async function setElsewhere(name: string, value: string): Promise<void> {
  const sealed = encryptSecret(parseKey(KEY_TEXT), name, value);
  await getPool().query('UPDATE stitch_credentials SET iv = $2, ciphertext = $3, auth_tag = $4, updated_at = now() WHERE name = $1', [name, sealed.iv, sealed.ciphertext, sealed.authTag]);
}

describe('a value rotated or deleted while a worker holds it', () => {
  /** Start a run of the holding worker, change the vault while it holds its key, then let it fail quoting that key. */
  async function holdThrough(change: () => Promise<void>): Promise<any> {
    const started = new Promise<void>((resolve) => (holding.started = resolve));
    let release!: () => void;
    holding.release = new Promise<void>((resolve) => (release = resolve));
    const created = await t.api('POST', '/api/flows', { name: `hold-${Math.random()}`, graph: graph(['w:holding'], []) });
    const run = await t.api('POST', `/api/flows/${created.body.id}/run`, { input: {} });
    await started;
    await change();
    release();
    return waitForRun(run.body.runId);
  }

  it('stays masked in the error, the rows, the events, the SSE stream and the log, whichever process changed it', async () => {
    const [first, second, third] = ['first', 'second', 'third'].map((n) => `held-${n}-${Math.random().toString(36).slice(2)}`);
    await withLogLines(async (lines) => {
      await t.api('PUT', '/api/credentials/HOLDING_API_KEY', { value: first });
      // Rotated by another process: this one learns the new value through the NOTIFY, and keeps the old one.
      const rotated = await holdThrough(async () => {
        await setElsewhere('HOLDING_API_KEY', second);
        await eventually(async () => vaultValue('HOLDING_API_KEY') === second);
      });
      // Deleted by another process, while the worker holds the value that other process had set.
      const deletedElsewhere = await holdThrough(async () => {
        await getPool().query('DELETE FROM stitch_credentials WHERE name = $1', ['HOLDING_API_KEY']);
        await eventually(async () => vaultValue('HOLDING_API_KEY') === undefined);
      });
      // Set and deleted through the API.
      await t.api('PUT', '/api/credentials/HOLDING_API_KEY', { value: third });
      const deleted = await holdThrough(async () => void (await t.api('DELETE', '/api/credentials/HOLDING_API_KEY')));
      for (const run of [rotated, deletedElsewhere, deleted]) {
        expect(run.status).toBe('failed');
        expect(run.error).toContain('vendor refused key [redacted]');
        for (const [where, text] of Object.entries(await everythingAbout(run.id, lines))) {
          for (const value of [first, second, third]) expect(text.includes(value), `a held value appears in ${where}`).toBe(false);
        }
      }
      expect(lines.join('')).toContain('vendor refused key [redacted]');
    });
  });
});

describe('a value in any shape', () => {
  it('deeper than 64 levels, prototype-free, in a class instance, URL-encoded, base64 or JSON-escaped: masked wherever it is stored', async () => {
    const planted = `shapes-${Math.random().toString(36).slice(2)}-secret`;
    await withLogLines(async (lines) => {
      await t.api('PUT', '/api/credentials/SHAPES_API_KEY', { value: planted });
      try {
        const run = await runOnce('shapes');
        expect(run.status).toBe('completed');
        const output = JSON.stringify(run.nodes.w.output);
        expect(output.split('[redacted]').length - 1).toBe(6);
        const encodings = [planted, encodeURIComponent(planted), Buffer.from(planted).toString('base64').slice(0, 16), JSON.stringify(planted).slice(1, -1)];
        for (const [where, text] of Object.entries(await everythingAbout(run.id, lines))) {
          for (const encoded of encodings) expect(text.includes(encoded), `${encoded} appears in ${where}`).toBe(false);
        }
      } finally {
        await t.api('DELETE', '/api/credentials/SHAPES_API_KEY');
      }
    });
  });
});

/** The run's SSE stream until its run:completed or run:failed event (replayed from the start). */
async function readSse(path: string): Promise<string> {
  const controller = new AbortController();
  const response = await fetch(t.url + path, { signal: controller.signal });
  const reader = response.body!.getReader();
  let text = '';
  const deadline = Date.now() + 10_000;
  while (!/run:(completed|failed)/.test(text) && Date.now() < deadline) {
    const { value, done } = await reader.read();
    if (done) break;
    text += new TextDecoder().decode(value);
  }
  controller.abort();
  return text;
}

describe('key sources', () => {
  it('doctor and the palette say env, vault or none (mock) for each integration key', async () => {
    const claudeRow = async (env?: Record<string, string>) =>
      (await runDoctor({ config: getConfig({ STITCH_BASE_URL: t.url }), database: false, env })).find((r) => r.check === 'worker' && r.subject === 'claude')!;
    const palette = async () => (await t.api('GET', '/api/workers')).body.workers.find((w: any) => w.id === 'claude').integration;

    expect((await claudeRow()).detail).toMatch(/MOCK MODE: ANTHROPIC_API_KEY not set \(key source: none\)/);
    expect(await palette()).toEqual({ mode: 'mock', keys: [{ name: 'ANTHROPIC_API_KEY', source: 'none' }] });

    await t.api('PUT', '/api/credentials/ANTHROPIC_API_KEY', { value: 'sk-ant-vault-0123456789' });
    expect((await claudeRow()).detail).toBe('sync, real mode (ANTHROPIC_API_KEY from vault)');
    expect(await palette()).toEqual({ mode: 'real', keys: [{ name: 'ANTHROPIC_API_KEY', source: 'vault' }] });

    // The environment wins over the vault.
    expect((await claudeRow({ ANTHROPIC_API_KEY: 'sk-ant-env-0123456789' })).detail).toBe('sync, real mode (ANTHROPIC_API_KEY from env)');
    await t.api('DELETE', '/api/credentials/ANTHROPIC_API_KEY');
    expect((await palette()).mode).toBe('mock');
  });
});

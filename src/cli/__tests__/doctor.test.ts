/**
 * `stitch doctor` detections: a worker registered without a definition, a definition without a
 * worker, a missing API key (mock mode) and a present one (real mode), an unreachable and a
 * reachable base URL, database and queue state; and the CLI's table and exit code.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { getConfig } from '@/lib/config';
import { migrate } from '@/lib/db/migrate';
import { freePort } from '@/lib/db/embedded';
import { WORKER_DEFINITIONS, workerRegistry } from '@/lib/workers/registry';
import { logWorker } from '@/lib/workers/utils';
import { startFakeVendor, type FakeVendor } from '@/lib/workers/testing';
import { createTestDatabase } from '../../../test/db';
import { formatDoctorTable, runDoctor, type DoctorRow } from '../commands/doctor';
import { encryptSecret, generateKeyText, parseKey } from '@/lib/vault/cipher';
import { setVaultValues } from '@/lib/vault/values';

const noop = class {
  async execute() {}
};

/** A worker written the seed's way: mock mode when KEYED_API_KEY is unset, said once in the log. */
class KeyedWorker {
  constructor() {
    if (!getConfig().workers.keyedApiKey) {
      logWorker('warn', 'Keyed worker initialized in MOCK MODE', { worker: 'keyed', reason: 'KEYED_API_KEY environment variable is not set' });
    }
  }
  async execute() {}
}

/** A project root whose index.ts registers 'keyed' from keyed.ts, a source naming its key and handing out callback URLs. */
function keyedProject(): string {
  const root = mkdtempSync(path.join(tmpdir(), 'doctor-'));
  mkdirSync(path.join(root, 'src/lib/workers'), { recursive: true });
  writeFileSync(path.join(root, 'src/lib/workers/index.ts'), "import { KeyedWorker } from './keyed';\nworkerRegistry.register('keyed', KeyedWorker);\n");
  writeFileSync(path.join(root, 'src/lib/workers/keyed.ts'), "// reads getConfig().workers.keyedApiKey ('KEYED_API_KEY'), hands vendors buildCallbackUrl(runId, nodeId)\n");
  return root;
}

const definition = (id: string, type: 'sync' | 'async' = 'sync') => ({ id, name: id, type, description: 'test', input: {}, output: {}, config: {} });
const rowsFor = (rows: DoctorRow[], check: DoctorRow['check'], subject?: string) => rows.filter((r) => r.check === check && (subject === undefined || r.subject === subject));

let health: FakeVendor;
let closedUrl: string;
beforeAll(async () => {
  health = await startFakeVendor({ 'GET /api/health': { json: { status: 'ok' } } });
  closedUrl = `http://127.0.0.1:${await freePort()}`;
});
afterAll(() => health.close());

const reachable = () => getConfig({ STITCH_BASE_URL: health.url });
/** Every *_API_KEY variable of this environment blanked: built-in workers in mock mode whatever the machine has. */
const mockEverything = () => Object.fromEntries(Object.keys(process.env).filter((k) => k.endsWith('_API_KEY')).map((k) => [k, '']));

describe('workers', () => {
  afterEach(() => {
    for (const type of ['orphan', 'ghost', 'keyed']) {
      workerRegistry.unregister(type);
      delete WORKER_DEFINITIONS[type];
    }
  });

  it('is clean for the built-in catalogue', async () => {
    const rows = await runDoctor({ config: reachable(), database: false });
    expect(rowsFor(rows, 'registry')).toEqual([expect.objectContaining({ status: 'ok' })]);
    expect(rows.filter((r) => r.status === 'fail')).toEqual([]);
  });

  it('detects a worker registered without a definition', async () => {
    workerRegistry.register('orphan', noop);
    const rows = await runDoctor({ config: reachable(), database: false });
    expect(rowsFor(rows, 'registry', 'orphan')).toEqual([
      expect.objectContaining({ status: 'fail', detail: 'Worker "orphan" is registered but has no definition', fix: expect.stringContaining("add 'orphan' to WORKER_DEFINITIONS in src/lib/workers/registry.ts") }),
    ]);
  });

  it('detects a definition without a worker', async () => {
    WORKER_DEFINITIONS.ghost = definition('ghost');
    const rows = await runDoctor({ config: reachable(), database: false });
    expect(rowsFor(rows, 'registry', 'ghost')).toEqual([
      expect.objectContaining({ status: 'fail', fix: expect.stringContaining("workerRegistry.register('ghost', …) to src/lib/workers/index.ts") }),
    ]);
  });

  it('reports mock mode and the missing key; real mode when the key is set', async () => {
    WORKER_DEFINITIONS.keyed = definition('keyed', 'async');
    workerRegistry.register('keyed', KeyedWorker);
    const mock = await runDoctor({ config: reachable(), database: false, env: { KEYED_API_KEY: '' } });
    expect(rowsFor(mock, 'worker', 'keyed')).toEqual([
      { check: 'worker', subject: 'keyed', status: 'warn', detail: 'async, MOCK MODE: KEYED_API_KEY not set (key source: none)',
        fix: 'for real calls set KEYED_API_KEY in .env or the vault (stitch credentials set KEYED_API_KEY); mock mode needs nothing',
      },
    ]);
    expect(mock.filter((r) => r.status === 'fail')).toEqual([]); // mock mode is a warning, not a failure

    // The key's name for real mode comes from the worker's source, found through its registration in index.ts.
    const root = keyedProject();
    try {
      const real = await runDoctor({ root, config: getConfig({ STITCH_BASE_URL: 'http://localhost:1' }), database: false, env: { KEYED_API_KEY: 'k-1' }, timeoutMs: 500 });
      expect(rowsFor(real, 'worker', 'keyed')).toEqual([{ check: 'worker', subject: 'keyed', status: 'ok', detail: 'async, real mode (KEYED_API_KEY from env)' }]);
      // A real async worker hands vendors a loopback callback URL: said, with the fix.
      expect(rowsFor(real, 'base-url').map((r) => r.status)).toEqual(['fail', 'warn']);
      expect(rowsFor(real, 'base-url')[1].detail).toContain('keyed hands it to vendors');
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
    expect(process.env.KEYED_API_KEY).toBeUndefined();
  });
});

describe('base URL', () => {
  it('reports an unreachable base URL with the fix (a warning while no real async worker waits for callbacks)', async () => {
    const rows = await runDoctor({ config: getConfig({ STITCH_BASE_URL: closedUrl }), database: false, timeoutMs: 1000, env: mockEverything() });
    expect(rowsFor(rows, 'base-url')).toEqual([
      {
        check: 'base-url',
        subject: closedUrl,
        status: 'warn',
        detail: `no Stitch server answers at ${closedUrl}/api/health (ECONNREFUSED): fine for stitch run and mock mode; vendor callbacks and --url need one`,
        fix: 'start Stitch (npm start), or set STITCH_BASE_URL to the URL where this Stitch server is reachable',
      },
    ]);
  });

  it('fails an unreachable base URL when a real-mode async worker waits for vendor callbacks', async () => {
    WORKER_DEFINITIONS.keyed = definition('keyed', 'async');
    workerRegistry.register('keyed', KeyedWorker);
    const root = keyedProject();
    try {
      const rows = await runDoctor({ root, config: getConfig({ STITCH_BASE_URL: closedUrl }), database: false, timeoutMs: 1000, env: { ...mockEverything(), KEYED_API_KEY: 'k' } });
      expect(rowsFor(rows, 'base-url')[0]).toMatchObject({
        status: 'fail',
        detail: `callbacks cannot arrive: ${closedUrl}/api/health is unreachable (ECONNREFUSED) but keyed wait for vendor callbacks`,
      });
    } finally {
      rmSync(root, { recursive: true, force: true });
      workerRegistry.unregister('keyed');
      delete WORKER_DEFINITIONS.keyed;
    }
  });

  it('is ok when /api/health answers', async () => {
    const rows = await runDoctor({ config: reachable(), database: false });
    expect(rowsFor(rows, 'base-url')).toEqual([expect.objectContaining({ status: 'ok', detail: `${health.url}/api/health answers 200` })]);
  });
});

describe('database and queue', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(() => db?.drop());

  it('says when the database is not migrated, then reports the queue without a live runner', async () => {
    const config = getConfig({ STITCH_BASE_URL: health.url, DATABASE_URL: db.url });
    const fresh = await runDoctor({ config });
    expect(rowsFor(fresh, 'database')).toEqual([expect.objectContaining({ status: 'warn', detail: 'connected, but not migrated yet' })]);

    const pool = new pg.Pool({ connectionString: db.url });
    pool.on('error', () => {});
    await migrate(pool);
    await pool.end();
    const migrated = await runDoctor({ config });
    expect(rowsFor(migrated, 'database')).toEqual([expect.objectContaining({ status: 'ok' })]);
    expect(rowsFor(migrated, 'queue')).toEqual([expect.objectContaining({ status: 'warn', detail: expect.stringContaining('no live queue runner') })]);
  });

  it('reports the vault: its key source, credentials that do not decrypt, and a key source per worker', async () => {
    const key = generateKeyText();
    const config = (extra: Record<string, string> = {}) => getConfig({ STITCH_BASE_URL: health.url, DATABASE_URL: db.url, ...extra });
    expect(rowsFor(await runDoctor({ config: config() }), 'vault')).toEqual([expect.objectContaining({ status: 'ok', detail: expect.stringMatching(/^off, keys come from the environment only/) })]);

    const pool = new pg.Pool({ connectionString: db.url });
    pool.on('error', () => {});
    const sealed = encryptSecret(parseKey(key), 'ANTHROPIC_API_KEY', 'sk-ant-doctor-0123456789');
    await pool.query('INSERT INTO stitch_credentials (name, iv, ciphertext, auth_tag) VALUES ($1, $2, $3, $4)', ['ANTHROPIC_API_KEY', sealed.iv, sealed.ciphertext, sealed.authTag]);
    await pool.end();
    try {
      const withKey = await runDoctor({ config: config({ STITCH_ENCRYPTION_KEY: key }), env: mockEverything() });
      expect(rowsFor(withKey, 'vault')).toEqual([expect.objectContaining({ status: 'ok', detail: '1 credential(s); key from STITCH_ENCRYPTION_KEY' })]);
      expect(rowsFor(withKey, 'worker', 'claude')[0].detail).toBe('sync, real mode (ANTHROPIC_API_KEY from vault)');
      const otherKey = await runDoctor({ config: config({ STITCH_ENCRYPTION_KEY: generateKeyText() }) });
      expect(rowsFor(otherKey, 'vault')).toEqual([expect.objectContaining({ status: 'fail', detail: expect.stringContaining('ANTHROPIC_API_KEY do not decrypt') })]);
      const noKey = await runDoctor({ config: config() });
      expect(rowsFor(noKey, 'vault')).toEqual([expect.objectContaining({ status: 'fail', detail: expect.stringContaining('ANTHROPIC_API_KEY stored, but no key') })]);
    } finally {
      setVaultValues(new Map());
    }
  });

  it('fails when the database does not answer', async () => {
    const rows = await runDoctor({ config: getConfig({ STITCH_BASE_URL: health.url, DATABASE_URL: `postgres://x:y@127.0.0.1:${await freePort()}/none` }) });
    expect(rowsFor(rows, 'database')).toEqual([expect.objectContaining({ status: 'fail', detail: expect.stringMatching(/^cannot connect/) })]);
  });

  it('`stitch doctor` prints the table and exits 1 when something is broken', async () => {
    let status = 0;
    let stdout = '';
    try {
      stdout = execFileSync(process.execPath, ['--import', 'tsx', 'src/cli/index.ts', 'doctor'], {
        encoding: 'utf8',
        env: { ...process.env, ...mockEverything(), DATABASE_URL: `postgres://x:y@127.0.0.1:${await freePort()}/none`, STITCH_BASE_URL: closedUrl, STITCH_LOG_LEVEL: 'error' },
        stdio: 'pipe',
      });
    } catch (error) {
      status = (error as { status: number }).status;
      stdout = (error as { stdout: string }).stdout;
    }
    expect(status).toBe(1);
    expect(stdout).toMatch(/^CHECK +SUBJECT +STATUS +DETAIL +FIX$/m);
    expect(stdout).toMatch(/^base-url .* WARN .* start Stitch \(npm start\)/m);
    expect(stdout).toMatch(/^database .* FAIL +cannot connect/m);
    expect(stdout).toMatch(/^1 problem\(s\)/m);
  });
});

it('formats a fixed-width table', () => {
  expect(formatDoctorTable([{ check: 'queue', subject: 'q', status: 'warn', detail: 'no runner', fix: 'start one' }])).toBe(
    'CHECK  SUBJECT  STATUS  DETAIL     FIX\nqueue  q        WARN    no runner  start one',
  );
});

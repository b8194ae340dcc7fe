/**
 * `stitch credentials` and `stitch schedules` as a user runs them, against a database: the value
 * piped to `credentials set` is stored encrypted and never printed; schedules are added (with a
 * budget), listed and removed by flow name.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../db';
import { REPO_ROOT } from './processes';

let db: { url: string; drop: () => Promise<void> };
const KEY = Buffer.alloc(32, 9).toString('base64');

/** Run the CLI with `stdin` piped in; resolves with its exit code and output. */
function stitch(args: string[], stdin = ''): Promise<{ code: number | null; out: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(REPO_ROOT, 'src/cli/index.ts'), ...args], {
    cwd: REPO_ROOT,
    env: { ...process.env, DATABASE_URL: db.url, STITCH_SECRET: 'cli-triggers-secret-0123', STITCH_ENCRYPTION_KEY: KEY, STITCH_LOG_LEVEL: 'warn', FORCE_COLOR: '0' },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (c) => (out += c));
  child.stderr.on('data', (c) => (out += c));
  child.stdin.end(stdin);
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, out })));
}

beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(() => db?.drop());

describe('stitch credentials', () => {
  it('set reads the value from standard input, stores it encrypted, and list never prints it', async () => {
    const set = await stitch(['credentials', 'set', 'ANTHROPIC_API_KEY'], 'sk-ant-cli-0123456789\n');
    expect(set.out).toContain('Stored ANTHROPIC_API_KEY (used by claude)');
    expect(set.code).toBe(0);
    const list = await stitch(['credentials', 'list']);
    expect(list.out).toMatch(/^ANTHROPIC_API_KEY {2}updated \S+ {2}used by claude$/m);
    expect(set.out + list.out).not.toContain('sk-ant-cli');

    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    // Search the stored bytes themselves (random ciphertext may hold bytes no text encoding accepts).
    const { rows } = await client.query("SELECT position(convert_to('sk-ant-cli', 'UTF8') IN ciphertext) AS at FROM stitch_credentials");
    await client.end();
    expect(rows).toEqual([{ at: 0 }]);

    expect((await stitch(['credentials', 'set', 'bad-name'], 'x')).code).toBe(1);
    expect((await stitch(['credentials', 'set', 'EMPTY_API_KEY'], '')).out).toContain('No value given');
    expect((await stitch(['credentials', 'rm', 'ANTHROPIC_API_KEY'])).code).toBe(0);
    expect((await stitch(['credentials', 'list'])).out).toContain('No credentials stored.');
  }, 90_000);
});

describe('stitch schedules', () => {
  it('add, list and rm by flow name', async () => {
    expect((await stitch(['run', 'examples/hello.json'])).code).toBe(0); // creates the flow "hello"
    const added = await stitch(['schedules', 'add', 'hello', '--cron', '0 9 * * 1-5', '--timezone', 'Europe/Berlin', '--input', '{"name":"Ada"}', '--catch-up', 'latest', '--budget-usd', '2.5']);
    expect(added.code).toBe(0);
    const id = /^([0-9a-f-]{36})\s+on\s+0 9 \* \* 1-5\s+Europe\/Berlin\s+catchUp=latest\s+budget=\$2\.5\s+next=\S+Z$/m.exec(added.out)?.[1];
    expect(id, added.out).toBeDefined();
    expect((await stitch(['schedules', 'list', 'hello'])).out).toContain(id);
    const bad = await stitch(['schedules', 'add', 'hello', '--cron', '0 25 * * *']);
    expect(bad.code).toBe(1);
    expect(bad.out).toMatch(/cron/);
    const badBudget = await stitch(['schedules', 'add', 'hello', '--cron', '0 9 * * *', '--budget-usd', 'ten']);
    expect(badBudget.code).toBe(1);
    expect(badBudget.out).toContain('budgetUsd must be a non-negative number');
    expect((await stitch(['schedules', 'list', 'hello'])).out.trim().split('\n')).toEqual([expect.stringContaining(id!)]); // the refused adds stored nothing
    expect((await stitch(['schedules', 'rm', 'hello', id!])).out).toContain(`Deleted schedule ${id}`);
    expect((await stitch(['schedules', 'list', 'hello'])).out).toContain('No schedules.');
  }, 120_000);
});

/**
 * The operator's commands on runs, each a real process: `stitch runs list` with the search's
 * filters, from the database and from a server (`--url`); `stitch prune` with and without --dry-run.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from './http';
import { createFlow } from '@/lib/engine/flows';
import { startRun } from '@/lib/engine/start-run';
import { graph, waitForRun } from '../helpers';
import { registerHttpTestWorkers } from './test-workers';
import { spawnStitch } from './processes';

let t: TestServer;
const failed: string[] = [];
const completed: string[] = [];

beforeAll(async () => {
  registerHttpTestWorkers();
  t = await startTestServer();
  const good = await createFlow('cli-good', graph(['a:echo'], []));
  const bad = await createFlow('cli-bad', graph(['a:boom'], []));
  for (const topic of ['otters', 'seals']) {
    completed.push((await startRun(good.id, { input: { topic } })).runId);
    failed.push((await startRun(bad.id, { input: { topic } })).runId);
  }
  await Promise.all([...failed, ...completed].map((id) => waitForRun(id)));
});
afterAll(async () => {
  await t?.close();
});

async function cli(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; output: string }> {
  const p = spawnStitch(args, { DATABASE_URL: t.stitch.url, STITCH_SECRET: 'test-secret-0123456789', ...env });
  return { code: await p.exited, output: p.output() };
}

describe('stitch runs list', () => {
  it('--status failed --since 24h --input topic=otters, from a server', async () => {
    const { code, output } = await cli(['runs', 'list', '--url', t.url, '--status', 'failed', '--since', '24h', '--input', 'topic=otters']);
    expect(code, output).toBe(0);
    expect(output).toContain(failed[0]);
    for (const other of [failed[1], ...completed]) expect(output).not.toContain(other);
    expect(output).toContain('boom');
  });

  it('--json from the database: the same page the API gives', async () => {
    const { code, output } = await cli(['runs', 'list', '--status', 'completed,failed', '--trigger', 'api', '--json', '--limit', '3']);
    expect(code, output).toBe(0);
    const page = JSON.parse(output.slice(output.indexOf('{')));
    const api = await t.api('GET', '/api/runs?status=completed,failed&trigger=api&limit=3');
    expect(page).toEqual(api.body);
    expect(page.runs).toHaveLength(3);
    expect(page.nextCursor).toBeTruthy();
  });
});

describe('stitch prune', () => {
  it('--dry-run says what STITCH_RETENTION would delete and changes nothing; then it deletes that', async () => {
    const pool = t.stitch.runtime.pool;
    await pool.query(`UPDATE stitch_runs SET finished_at = now() - interval '10 days' WHERE id = ANY($1)`, [failed]);
    const env = { STITCH_RETENTION: 'failed=7' };
    const dry = await cli(['prune', '--dry-run', '--json'], env);
    expect(dry.code, dry.output).toBe(0);
    const counts = JSON.parse(dry.output.slice(dry.output.indexOf('{')));
    expect(counts).toMatchObject({ dryRun: true, runs: 2, childRuns: 0, byStatus: { failed: 2 } });
    expect(counts.nodeRows).toBeGreaterThanOrEqual(2);
    expect((await pool.query('SELECT 1 FROM stitch_runs WHERE id = ANY($1)', [failed])).rowCount).toBe(2);

    const real = await cli(['prune'], env);
    expect(real.code, real.output).toBe(0);
    expect(real.output).toContain('Deleted 2 runs (2 failed)');
    expect((await pool.query('SELECT 1 FROM stitch_runs WHERE id = ANY($1)', [failed])).rowCount).toBe(0);
    expect((await pool.query('SELECT 1 FROM stitch_runs WHERE id = ANY($1)', [completed])).rowCount).toBe(completed.length);
  });
});

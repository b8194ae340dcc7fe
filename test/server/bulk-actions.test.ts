/**
 * Bulk actions (POST /api/runs/bulk) on a real server and queue: a bulk retry of 200 failed runs
 * completes them, its progress streams, and an identical second request does nothing new; dry runs
 * count what the job then acts on; cancel and re-run go through the engine's own paths; the cap
 * and the bound on kept jobs hold.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from './http';
import { createFlow } from '@/lib/engine/flows';
import { startRun } from '@/lib/engine/start-run';
import { eventually, graph, registerTestWorker, syncWorker } from '../helpers';
import { registerHttpTestWorkers } from './test-workers';

let t: TestServer;
let failing = true;

beforeAll(async () => {
  registerHttpTestWorkers();
  // Fails while `failing` is set: the runs fail first, and a retry later completes them.
  registerTestWorker(
    'flaky',
    syncWorker((input) => {
      if (failing) throw new Error('vendor down');
      return { ...input, ok: true };
    }),
    { retry: { attempts: 1 } },
  );
  t = await startTestServer({ concurrency: 8, env: { STITCH_MAX_BULK_RUNS: '250', STITCH_MAX_BULK_JOBS: '6' } });
});
afterAll(async () => {
  await t?.close();
});

const count = async (query: string) => {
  let n = 0;
  let cursor: string | null = null;
  do {
    const res: { body: any } = await t.api('GET', `/api/runs?${query}&limit=200${cursor ? `&cursor=${cursor}` : ''}`);
    n += res.body.runs.length;
    cursor = res.body.nextCursor;
  } while (cursor);
  return n;
};

const finished = (id: string) => eventually(async () => {
  const job = (await t.api('GET', `/api/runs/bulk/${id}`)).body;
  return job.state === 'completed' && job;
}, 60_000);

/** Every progress snapshot a job's stream sends, until it ends. */
async function progress(id: string): Promise<Array<{ done: number; state: string; succeeded: number }>> {
  const res = await fetch(`${t.url}/api/runs/bulk/${id}/events`);
  expect(res.headers.get('content-type')).toContain('text/event-stream');
  const text = await res.text(); // the stream ends after the completed snapshot
  return text.split('\n').filter((l) => l.startsWith('data: ')).map((l) => JSON.parse(l.slice(6)));
}

describe('bulk retry of 200 failed runs', () => {
  let flowId: string;
  let jobId: string;

  it('the dry run counts them, the job completes them, and its progress streams', async () => {
    flowId = (await createFlow('bulk-retry', graph(['a:flaky'], []))).id;
    for (let i = 0; i < 200; i += 50) await Promise.all(Array.from({ length: 50 }, (_, k) => startRun(flowId, { input: { i: i + k, customer: i % 100 === 0 ? 'acme' : 'other' } })));
    await eventually(async () => (await count(`flowId=${flowId}&status=failed`)) === 200, 60_000);
    failing = false;

    const filter = { flowId, status: 'failed', createdAfter: '1h' };
    const dry = await t.api('POST', '/api/runs/bulk', { action: 'retry', filter, dryRun: true });
    expect(dry.status).toBe(200);
    expect(dry.body).toEqual({ dryRun: true, action: 'retry', count: 200, max: 250, exceedsMax: false });

    const posted = await t.api('POST', '/api/runs/bulk', { action: 'retry', filter });
    expect(posted.status, JSON.stringify(posted.body)).toBe(202);
    expect(posted.body).toMatchObject({ action: 'retry', total: 200, duplicate: false });
    jobId = posted.body.id;
    expect(posted.body.eventsUrl).toBe(`${t.url}/api/runs/bulk/${jobId}/events`);

    const snapshots = await progress(jobId);
    const last = snapshots[snapshots.length - 1];
    expect(last).toMatchObject({ state: 'completed', total: 200, done: 200, succeeded: 200, skipped: 0, failed: 0 });
    for (let i = 1; i < snapshots.length; i++) expect(snapshots[i].done).toBeGreaterThanOrEqual(snapshots[i - 1].done);

    await eventually(async () => (await count(`flowId=${flowId}&status=completed`)) === 200, 60_000);
    const items = (await t.api('GET', `/api/runs/bulk/${jobId}/items?limit=200`)).body;
    expect(items.items).toHaveLength(200);
    expect(items.items.every((i: { state: string; result: { retried: string[] } }) => i.state === 'done' && i.result.retried[0] === 'a')).toBe(true);
  });

  it('an identical second request answers with the same job and retries nothing again', async () => {
    const attempts = async () =>
      (await t.stitch.db.pool.query(`SELECT sum(n.attempt)::int AS s FROM stitch_node_runs n JOIN stitch_runs r ON r.id = n.run_id WHERE r.flow_id = $1`, [flowId])).rows[0].s;
    const before = await attempts();
    const again = await t.api('POST', '/api/runs/bulk', { action: 'retry', filter: { flowId, status: 'failed', createdAfter: '1h' } });
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ id: jobId, duplicate: true, state: 'completed', succeeded: 200 });
    const jobs = await t.stitch.db.pool.query(`SELECT count(*)::int AS n FROM stitch_bulk_jobs WHERE action = 'retry'`);
    expect(jobs.rows[0].n).toBe(1);
    expect(await attempts()).toBe(before);
    // A different request over the same runs finds none left to retry: they completed.
    const other = await t.api('POST', '/api/runs/bulk', { action: 'retry', filter: { flowId } });
    expect(other.body).toMatchObject({ total: 0, state: 'completed', duplicate: false });
  });

  it('re-run: each finished run once, through the re-run machinery, with the job in its trigger', async () => {
    const filter = { flowId, input: { customer: 'acme' } };
    const dry = await t.api('POST', '/api/runs/bulk', { action: 'rerun', filter, dryRun: true });
    expect(dry.body.count).toBe(100);
    const posted = await t.api('POST', '/api/runs/bulk', { action: 'rerun', filter });
    expect(posted.body.total).toBe(dry.body.count);
    const job = await finished(posted.body.id);
    expect(job).toMatchObject({ succeeded: 100, failed: 0 });
    const { rows } = await t.stitch.db.pool.query(
      `SELECT count(*)::int AS n, count(DISTINCT rerun_of)::int AS sources FROM stitch_runs WHERE trigger ->> 'bulkJobId' = $1 AND trigger ->> 'type' = 'rerun'`,
      [posted.body.id],
    );
    expect(rows[0]).toEqual({ n: 100, sources: 100 });
  });
});

describe('bulk cancel', () => {
  it('cancels pending and running runs and leaves finished ones out', async () => {
    const flow = await createFlow('bulk-cancel', graph(['v:vendor'], []));
    const done = await createFlow('bulk-cancel-done', graph(['a:echo'], []));
    const running = await Promise.all(Array.from({ length: 12 }, () => startRun(flow.id, { input: { batch: 'c1' } })));
    await startRun(done.id, { input: { batch: 'c1' } });
    await eventually(async () => (await count('input.batch=c1&status=completed')) === 1 && (await count(`flowId=${flow.id}&status=running`)) === 12);
    const dry = await t.api('POST', '/api/runs/bulk', { action: 'cancel', filter: { input: { batch: 'c1' } }, dryRun: true });
    expect(dry.body.count).toBe(12);
    const posted = await t.api('POST', '/api/runs/bulk', { action: 'cancel', filter: { input: { batch: 'c1' } } });
    const job = await finished(posted.body.id);
    expect(job).toMatchObject({ total: 12, succeeded: 12 });
    expect(await count(`flowId=${flow.id}&status=cancelled`)).toBe(running.length);
  });
});

describe('limits and refusals', () => {
  it('a filter matching more runs than STITCH_MAX_BULK_RUNS: the dry run says so, the request is refused', async () => {
    const flow = await createFlow('bulk-many', graph(['a:echo'], []));
    await t.stitch.db.pool.query(
      `INSERT INTO stitch_runs (flow_id, version_id, status, finished_at, error)
       SELECT $1, (SELECT current_version_id FROM stitch_flows WHERE id = $1), 'failed', now(), 'x' FROM generate_series(1, 251)`,
      [flow.id],
    );
    const dry = await t.api('POST', '/api/runs/bulk', { action: 'retry', filter: { flowId: flow.id }, dryRun: true });
    expect(dry.body).toMatchObject({ count: 251, max: 250, exceedsMax: true });
    const refused = await t.api('POST', '/api/runs/bulk', { action: 'retry', filter: { flowId: flow.id } });
    expect(refused.status).toBe(400);
    expect(refused.body.error.details[0].code).toBe('too_many_runs');
    expect((await t.stitch.db.pool.query(`SELECT count(*)::int AS n FROM stitch_bulk_jobs WHERE filter ->> 'flowId' = $1`, [flow.id])).rows[0].n).toBe(0);
  });

  it('kept jobs are bounded (STITCH_MAX_BULK_JOBS), newest first and paginated', async () => {
    for (let i = 0; i < 8; i++) await t.api('POST', '/api/runs/bulk', { action: 'cancel', filter: { input: { none: i } } });
    const first = await t.api('GET', '/api/runs/bulk?limit=4');
    expect(first.body.jobs).toHaveLength(4);
    const second = await t.api('GET', `/api/runs/bulk?limit=4&cursor=${first.body.nextCursor}`);
    expect(second.body.jobs).toHaveLength(2);
    expect(second.body.nextCursor).toBeNull();
    expect(first.body.jobs[0].filter).toEqual({ input: { none: 7 } });
  });

  it('bad requests are 400 and change nothing; unknown jobs are 404', async () => {
    const before = (await t.stitch.db.pool.query('SELECT count(*)::int AS n FROM stitch_bulk_jobs')).rows[0].n;
    for (const body of [
      { action: 'delete', filter: {} },
      { action: 'retry', filter: { status: 'sideways' } },
      { action: 'retry', filter: { flowid: 'x' } },
      { action: 'retry', filter: { createdAfter: 'last tuesday' } },
      { action: 'retry', filter: { input: { a: { b: 1 } } } },
      { action: 'retry', filter: {}, extra: 1 },
      { filter: {} },
    ]) {
      const res = await t.api('POST', '/api/runs/bulk', body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.error.code).toBe('validation_failed');
    }
    expect((await t.stitch.db.pool.query('SELECT count(*)::int AS n FROM stitch_bulk_jobs')).rows[0].n).toBe(before);
    for (const path of ['/api/runs/bulk/00000000-0000-4000-8000-000000000000', '/api/runs/bulk/nope', '/api/runs/bulk/nope/items', '/api/runs/bulk/nope/events']) {
      expect((await t.api('GET', path)).status, path).toBe(404);
    }
    expect((await t.api('GET', '/api/runs/bulk?cursor=garbage')).status).toBe(400);
  });
});

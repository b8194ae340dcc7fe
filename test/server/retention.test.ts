/**
 * Retention: the policy (STITCH_RETENTION's form, and a flow's own) deletes exactly the runs it
 * says — with their sub-flow runs, node rows, events, usage, idempotency keys and spent cache
 * entries — and nothing a kept run or a cache entry still refers to, media files included; the
 * dry run counts what the prune then deletes; a flow's policy set over the API is applied by the
 * `stitch_prune` queue job.
 */
import { mkdtempSync } from 'node:fs';
import { access } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from './http';
import { createFlow } from '@/lib/engine/flows';
import { cancelRun, startRun } from '@/lib/engine/start-run';
import { pruneAll, pruneReport } from '@/lib/runs/retention';
import { eventually, graph, registerMeteredWorker, registerTestWorker, syncWorker, waitForRun } from '../helpers';

let t: TestServer;
let dataDir: string;
let restorePrices: () => void;

const sql = async <T = any>(text: string, params: unknown[] = []) => (await t.stitch.runtime.pool.query(text, params)).rows as T[];
const fileOf = (url: string) => path.join(dataDir, 'files', ...url.slice(`${t.url}/files/`.length).split('/'));
const fileExists = (url: string) => access(fileOf(url)).then(() => true, () => false);
/** Finish time `days` ago. */
const age = (runId: string, days: number) => sql(`UPDATE stitch_runs SET finished_at = now() - interval '1 day' * $2 WHERE id = $1 OR parent_run_id = $1`, [runId, days]);

beforeAll(async () => {
  dataDir = mkdtempSync(path.join(tmpdir(), 'stitch-retention-'));
  // Writes a file of the run's own and outputs its URL (and whatever `ref` it was given).
  registerTestWorker(
    'keep-file',
    syncWorker(async (input, _config, { runId, nodeId }) => ({
      url: await t.stitch.runtime.storage.put(`media/${runId}/${nodeId}.bin`, `bytes of ${runId}`, 'application/octet-stream'),
      ref: input.ref ?? null,
    })),
  );
  registerTestWorker('always-fails', syncWorker(() => { throw new Error('vendor down'); }), { retry: { attempts: 1 } });
  registerTestWorker('never-ends', class { async execute() {} });
  restorePrices = registerMeteredWorker('metered', 0.01).restore;
  // No default policy in the server's own config: its pruning job acts on flow policies only.
  t = await startTestServer({ env: { STITCH_DATA_DIR: dataDir } });
});
afterAll(async () => {
  await t?.close();
  restorePrices?.();
});

const parts = () => ({
  config: { retention: { policy: { completed: 1, failed: 3 }, batch: 2, intervalSeconds: 3600 } },
  pool: t.stitch.runtime.pool,
  storage: t.stitch.runtime.storage,
});

describe('retention', () => {
  const runs: Record<string, string> = {};
  const urls: Record<string, string> = {};
  let keepForeverFlow: string;

  it('deletes exactly what the policy says, and what the dry run counted', async () => {
    const media = await createFlow('retention media', graph(['m:keep-file', 'u:metered'], [['m', 'u']]));
    const failing = await createFlow('retention failing', graph(['x:always-fails'], []));
    const stuck = await createFlow('retention stuck', graph(['w:never-ends'], []));
    const child = await createFlow('retention child', graph(['m:keep-file'], []));
    const parent = await createFlow('retention parent', graph([{ id: 'sub', type: 'flow', config: { flowId: child.id } }], []));
    keepForeverFlow = (await createFlow('retention kept', graph(['m:keep-file'], []))).id;
    expect((await t.api('PUT', `/api/flows/${keepForeverFlow}/retention`, { retention: { completed: null } })).status).toBe(200);

    const start = async (name: string, flowId: string, input: Record<string, unknown> = {}) => {
      runs[name] = (await startRun(flowId, { input })).runId;
      const run = await waitForRun(runs[name]);
      urls[name] = (run.output as { url?: string } | null)?.url ?? '';
      return run;
    };
    // The first old run is started over the API with an idempotency key: the key goes with it.
    const started = await t.api('POST', `/api/flows/${media.id}/run`, { input: {} }, { 'Idempotency-Key': 'retention-1' });
    runs.old = started.body.runId;
    urls.old = ((await waitForRun(runs.old)).output as { url: string }).url;
    await start('oldShared', media.id); // its file is also in a kept run's input
    await start('oldCached', media.id); // its file is also in a live cache entry
    await start('young', media.id, { ref: 'see below' });
    await start('failedYoung', failing.id);
    await start('failedOld', failing.id);
    await start('keptForever', keepForeverFlow);
    const parentRun = await start('parent', parent.id);
    expect(parentRun.status).toBe('completed');
    runs.child = (await sql<{ id: string }>('SELECT id FROM stitch_runs WHERE parent_run_id = $1', [runs.parent]))[0].id;
    urls.child = (await sql<{ output: { url: string } }>('SELECT output FROM stitch_runs WHERE id = $1', [runs.child]))[0].output.url;
    runs.cancelled = (await startRun(stuck.id, { input: {} })).runId;
    await cancelRun(runs.cancelled);
    runs.running = (await startRun(stuck.id, { input: {} })).runId;

    // A kept run refers to oldShared's file; a live cache entry to oldCached's; an expired one of
    // oldCached's (a spent flight) goes with it.
    await sql(`UPDATE stitch_runs SET input = jsonb_build_object('ref', $2::text) WHERE id = $1`, [runs.young, urls.oldShared]);
    await sql(`INSERT INTO stitch_cache (key, status, output, run_id) VALUES ('live', 'ready', jsonb_build_object('url', $1::text), $2)`, [urls.oldCached, runs.oldCached]);
    await sql(`INSERT INTO stitch_cache (key, status, output, run_id, expires_at) VALUES ('spent', 'ready', '{}', $1, now() - interval '1 hour')`, [runs.oldCached]);

    for (const name of ['old', 'oldShared', 'oldCached', 'parent']) await age(runs[name], 2); // completed, > 1 day
    await age(runs.young, 0.5);
    await age(runs.failedYoung, 2); // failed, < 3 days
    await age(runs.failedOld, 4);
    await age(runs.keptForever, 400); // its flow keeps completed runs for ever
    await age(runs.cancelled, 100); // no policy for cancelled runs
    await sql(`UPDATE stitch_runs SET created_at = now() - interval '30 days' WHERE id = $1`, [runs.running]);

    const gone = ['old', 'oldShared', 'oldCached', 'parent', 'child', 'failedOld'].map((n) => runs[n]);
    const kept = ['young', 'failedYoung', 'keptForever', 'cancelled', 'running'].map((n) => runs[n]);
    const rowsOf = async (ids: string[]) => ({
      nodes: (await sql('SELECT 1 FROM stitch_node_runs WHERE run_id = ANY($1)', [ids])).length,
      events: (await sql('SELECT 1 FROM stitch_events WHERE run_id = ANY($1)', [ids])).length,
      usage: (await sql('SELECT 1 FROM stitch_node_usage WHERE run_id = ANY($1)', [ids])).length,
      keys: (await sql('SELECT 1 FROM stitch_idempotency_keys WHERE run_id = ANY($1)', [ids])).length,
    });
    const before = await rowsOf(gone);
    expect(before.usage).toBeGreaterThan(0);
    expect(before.keys).toBe(1);
    const keptBefore = await rowsOf(kept);

    const dry = await pruneReport(parts());
    expect(dry).toMatchObject({ runs: 5, childRuns: 1, byStatus: { completed: 4, failed: 1 }, nodeRows: before.nodes, events: before.events, cacheEntries: 1, mediaFiles: 2 });
    expect((await sql('SELECT id FROM stitch_runs WHERE id = ANY($1)', [gone])).length).toBe(gone.length); // a dry run changes nothing

    const done = await pruneAll(parts()); // batches of 2 root runs
    expect(done).toEqual(dry);

    expect(await sql('SELECT id FROM stitch_runs WHERE id = ANY($1)', [gone])).toEqual([]);
    expect(await rowsOf(gone)).toEqual({ nodes: 0, events: 0, usage: 0, keys: 0 });
    expect((await sql('SELECT id FROM stitch_runs WHERE id = ANY($1)', [kept])).length).toBe(kept.length);
    expect(await rowsOf(kept)).toEqual(keptBefore);
    expect((await sql('SELECT key FROM stitch_cache ORDER BY key')).map((r) => r.key)).toEqual(['live']);

    // Media: only what nothing kept refers to is removed.
    expect(await fileExists(urls.old)).toBe(false);
    expect(await fileExists(urls.child)).toBe(false);
    expect(await fileExists(urls.oldShared)).toBe(true);
    expect(await fileExists(urls.oldCached)).toBe(true);
    expect(await fileExists(urls.young)).toBe(true);
    expect(await sql('SELECT key FROM stitch_media_trash')).toEqual([]);

    // Nothing more is due.
    expect(await pruneReport(parts())).toMatchObject({ runs: 0, childRuns: 0, mediaFiles: 0 });
  });

  it("a flow's own policy, set over the API, is applied by the pruning job", async () => {
    const get = await t.api('GET', `/api/flows/${keepForeverFlow}/retention`);
    expect(get.body).toEqual({ flowId: keepForeverFlow, retention: { completed: null }, effective: { completed: null, failed: null, cancelled: null } });

    const put = await t.api('PUT', `/api/flows/${keepForeverFlow}/retention`, { retention: { completed: 30 } });
    expect(put.status).toBe(200);
    expect(put.body.effective).toEqual({ completed: 30, failed: null, cancelled: null });
    // The job the PUT queued deletes the 400-day-old run, and its file.
    await eventually(async () => (await sql('SELECT 1 FROM stitch_runs WHERE id = $1', [runs.keptForever])).length === 0, 30_000);
    await eventually(async () => !(await fileExists(urls.keptForever)), 10_000);
    // Runs of flows without a policy stay: the server has no default.
    expect((await sql('SELECT id FROM stitch_runs WHERE id = ANY($1)', [[runs.young, runs.cancelled, runs.failedYoung]])).length).toBe(3);

    const cleared = await t.api('PUT', `/api/flows/${keepForeverFlow}/retention`, { retention: null });
    expect(cleared.body).toMatchObject({ retention: null, effective: { completed: null } });
  });

  it('refuses a bad policy precisely and changes nothing', async () => {
    for (const retention of [{ completed: -1 }, { completed: 0 }, { kept: 3 }, { failed: '3d' }, { completed: 1e9 }]) {
      const res = await t.api('PUT', `/api/flows/${keepForeverFlow}/retention`, { retention });
      expect(res.status, JSON.stringify(retention)).toBe(400);
      expect(res.body.error.code).toBe('validation_failed');
    }
    expect((await t.api('GET', `/api/flows/${keepForeverFlow}/retention`)).body.retention).toBeNull();
    expect((await t.api('PUT', '/api/flows/00000000-0000-4000-8000-000000000000/retention', { retention: { completed: 1 } })).status).toBe(404);
    expect((await t.api('GET', '/api/flows/not-a-flow/retention')).status).toBe(404);
  });
});

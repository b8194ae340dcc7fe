/**
 * Backup and move (issue 24.6): a project on the embedded PostgreSQL — flows with two versions
 * and alerts, a webhook trigger, a schedule, a sealed credential, runs — exported with
 * `exportData`, imported into PostgreSQL 15 with `importData` under the same vault key: the flows
 * run there, the credential decrypts, the schedule's tick is armed, the runs read as they were.
 * A truncated archive and a database that is not empty are refused, changing nothing.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { getConfig } from '@/lib/config';
import { startStitch, type StitchInstance } from '@/lib/stitch';
import { getPool } from '@/lib/db/pool';
import { createFlow, updateFlow } from '@/lib/engine/flows';
import { startRun } from '@/lib/engine/start-run';
import { getFlow, listVersions } from '@/lib/db/queries/flows';
import { updateFlowAlerts } from '@/lib/db/queries/alerts';
import { createTrigger, findTriggerBySlug } from '@/lib/db/queries/triggers';
import { createSchedule, listSchedules } from '@/lib/schedules/store';
import { listCredentials, setCredential } from '@/lib/vault/credentials';
import { loadVaultOnce, reloadVaultNow } from '@/lib/vault/sync';
import { parseKey } from '@/lib/vault/cipher';
import { getRunWithNodes } from '@/lib/db/runs';
import { nonEmptyTables } from '@/lib/db/queries/data-archive';
import { exportData, importData } from '@/lib/backup/archive';
import { graph, registerTestWorker, syncWorker, waitForRun } from '../helpers';
import { startPg15, type Pg15 } from '../pg15';

const SECRET_VALUE = 'sk-moved-0123456789';
const sha = (s: string) => createHash('sha256').update(s).digest('hex');

// Reads its key through getConfig() (environment, then vault) and outputs only its hash: values
// never reach outputs.
registerTestWorker(
  'vault-reader',
  syncWorker(() => ({ keyHash: sha(getConfig().workers.movedDemoApiKey ?? 'no key') })),
);

let stitch: StitchInstance | undefined;
let pg15: Pg15 | undefined;

afterAll(async () => {
  await stitch?.stop();
  await pg15?.stop();
});

const base = { STITCH_LOG_LEVEL: 'warn', STITCH_SECRET: 'moved-secret-0123456789' };

describe('export-data from the embedded database, import-data into PostgreSQL 15', () => {
  it('moves flows, versions, alerts, triggers, schedules, credentials and runs; the flows run there', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'stitch-move-'));
    const dataDir = path.join(dir, '.stitch');
    const archive = path.join(dir, 'project.stitch.gz');

    // --- the source: Stitch on its own embedded PostgreSQL (no DATABASE_URL) ---
    stitch = await startStitch({ config: getConfig({ ...base, STITCH_DATA_DIR: dataDir }), pollIntervalMs: 200 });
    expect(stitch.db.embedded).toBeDefined();
    await setCredential('MOVED_DEMO_API_KEY', SECRET_VALUE);
    const g = graph(['s:start', 'v:vault-reader', 'e:end'], [['s', 'v'], ['v', 'e']]);
    const flow = await createFlow('moved', g);
    await updateFlow(flow.id, graph(['s:start', 'v:vault-reader'], [['s', 'v']]));
    await updateFlowAlerts(getPool(), flow.id, [{ on: 'run.failed', to: 'https://alerts.example.com/hook' }]);
    const trigger = await createTrigger(getPool(), flow.id, 'moved-hook');
    const schedule = await createSchedule(flow.id, { cron: '0 3 * * *', timezone: 'UTC', input: { nightly: true }, enabled: true, catchUp: 'none' });
    const done = await waitForRun((await startRun({ flowId: flow.id }, { input: { n: 1 } })).runId);
    expect(done.status).toBe('completed');
    expect(done.output).toEqual({ keyHash: sha(SECRET_VALUE) });
    const gate = await createFlow('waiting', graph([{ id: 'gate', type: 'ux', config: { prompt: 'ok?' } }], []));
    const open = await startRun({ flowId: gate.id });
    await waitForRun(open.runId, { status: 'running' });

    const exported = await exportData(getPool(), archive, { runs: true });
    expect(exported.counts).toMatchObject({ stitch_flows: 2, stitch_flow_versions: 3, stitch_triggers: 1, stitch_schedules: 1, stitch_credentials: 1, stitch_runs: 1 });
    expect(exported.counts.stitch_node_runs).toBe(2);
    expect(exported.counts.stitch_events).toBeGreaterThan(3);
    expect(exported.runsLeftOut).toBe(1); // the run still waiting at its gate
    const sourceEvents = (await getPool().query('SELECT count(*)::int AS n FROM stitch_events WHERE run_id = $1', [done.id])).rows[0].n;
    const keyText = readFileSync(path.join(dataDir, 'vault.key'), 'utf8').trim();
    await stitch.stop();
    stitch = undefined;

    // --- the target: PostgreSQL 15 through DATABASE_URL, the same vault key ---
    pg15 = await startPg15();
    expect(pg15.version).toMatch(/^15/);
    stitch = await startStitch({
      config: getConfig({ ...base, DATABASE_URL: pg15.url, STITCH_ENCRYPTION_KEY: keyText, STITCH_DATA_DIR: path.join(dir, 'target') }),
      pollIntervalMs: 200,
    });

    // A damaged archive is refused, and the database stays empty.
    const lines = gunzipSync(readFileSync(archive)).toString('utf8').split('\n');
    const truncated = path.join(dir, 'truncated.gz');
    writeFileSync(truncated, gzipSync(lines.slice(0, 6).join('\n')));
    await expect(importData(truncated)).rejects.toThrow(/truncated/);
    writeFileSync(path.join(dir, 'not-an-archive.gz'), gzipSync('{"hello":"world"}\n'));
    await expect(importData(path.join(dir, 'not-an-archive.gz'))).rejects.toThrow(/not a Stitch data archive/);
    expect(await nonEmptyTables(getPool())).toEqual([]);

    const imported = await importData(archive);
    expect(imported.counts).toEqual(exported.counts);
    expect(imported.schedules).toBe(1);
    await expect(importData(archive)).rejects.toThrow(/empty database/);

    // The credential decrypts with the same key, and only with it.
    expect((await listCredentials({ limit: 50 })).credentials.map((c) => c.name)).toEqual(['MOVED_DEMO_API_KEY']);
    expect(await loadVaultOnce(parseKey(keyText))).toEqual({ loaded: 1, undecryptable: [] });
    expect((await loadVaultOnce(parseKey(Buffer.alloc(32, 7).toString('base64')))).undecryptable).toEqual(['MOVED_DEMO_API_KEY']);
    await reloadVaultNow(); // back to this process's own key (loadVaultOnce replaced its values)

    // The flow, its versions, its alerts, trigger and schedule (with its tick job) came along.
    const moved = await getFlow(getPool(), flow.id);
    expect(moved).toMatchObject({ name: 'moved', version: 2, alerts: [{ on: 'run.failed', to: 'https://alerts.example.com/hook' }] });
    expect((await listVersions(getPool(), flow.id, { limit: 50 })).versions.map((v) => v.version)).toEqual([2, 1]);
    expect(await findTriggerBySlug(getPool(), 'moved-hook')).toMatchObject({ id: trigger.id, secret: trigger.secret });
    expect((await listSchedules(flow.id, { limit: 50 })).schedules[0]).toMatchObject({ id: schedule.id, nextRunAt: schedule.nextRunAt, enabled: true });
    const tick = await getPool().query('SELECT run_at FROM graphile_worker.jobs WHERE key = $1', [`stitch:schedule:${schedule.id}`]);
    expect(tick.rows[0].run_at.toISOString()).toBe(schedule.nextRunAt);

    // The old run reads as it was; the flow runs here and reads the moved credential.
    const old = await getRunWithNodes(done.id);
    expect(old).toMatchObject({ status: 'completed', output: done.output });
    expect(Object.values(old.nodes).map((n) => n.status)).toEqual(['completed', 'completed']);
    expect((await getPool().query('SELECT count(*)::int AS n FROM stitch_events WHERE run_id = $1', [done.id])).rows[0].n).toBe(sourceEvents);
    const again = await waitForRun((await startRun({ flowId: flow.id }, { input: { n: 2 } })).runId);
    expect(again.status).toBe('completed');
    expect(again.output).toEqual({ keyHash: sha(SECRET_VALUE) });
    // New events continue after the imported ones (their sequence was advanced).
    expect((await getPool().query('SELECT min(id)::int AS m FROM stitch_events WHERE run_id = $1', [again.id])).rows[0].m).toBeGreaterThan(
      (await getPool().query('SELECT max(id)::int AS m FROM stitch_events WHERE run_id = $1', [done.id])).rows[0].m,
    );
  });
});

/**
 * Schedules over HTTP and the tick job's rules, in one process on a real database: CRUD and its
 * 400/404s; runs started by a schedule carry their trigger (and the runs list shows it); a tick
 * job run twice starts one run; missed ticks follow catchUp; a PATCHed schedule supersedes its tick.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getPool } from '@/lib/db/pool';
import { scheduleTickJob } from '@/lib/schedules/tick';
import { eventually, graph } from '../helpers';
import { startTestServer, type TestServer } from './http';

let t: TestServer;
let flowId: string;

const transformFlow = graph(['start:start', { id: 'stamp', workerType: 'transform', config: { set: { stamped: 'yes' } } }, 'end:end'], [
  ['start', 'stamp'],
  ['stamp', 'end'],
]);

/** Schedule-started runs of the flow, oldest tick first. */
async function scheduledRuns(scheduleId: string) {
  const { rows } = await getPool().query(
    `SELECT id, trigger, created_at FROM stitch_runs WHERE trigger->>'scheduleId' = $1 ORDER BY trigger->>'scheduledFor'`,
    [scheduleId],
  );
  return rows as { id: string; trigger: { type: string; scheduleId: string; scheduledFor: string; catchUp?: boolean } }[];
}

const jobFor = async (scheduleId: string) =>
  (await getPool().query(`SELECT payload, run_at FROM graphile_worker._private_jobs WHERE key = $1`, [`stitch:schedule:${scheduleId}`])).rows[0];

beforeAll(async () => {
  t = await startTestServer();
  const created = await t.api('POST', '/api/flows', { name: 'scheduled', graph: transformFlow });
  flowId = created.body.id;
}, 60_000);
afterAll(() => t?.close());

describe('schedules API', () => {
  it('creates, lists, changes and deletes a schedule; its tick is one keyed queue job', async () => {
    const created = await t.api('POST', `/api/flows/${flowId}/schedules`, { cron: '0 9 * * 1-5', timezone: 'Europe/Berlin', input: { who: 'ada' } });
    expect(created.status).toBe(201);
    const s = created.body;
    expect(s).toMatchObject({ flowId, cron: '0 9 * * 1-5', timezone: 'Europe/Berlin', enabled: true, catchUp: 'none', input: { who: 'ada' } });
    expect(new Date(s.nextRunAt).getTime()).toBeGreaterThan(Date.now());
    const job = await jobFor(s.id);
    expect(job.payload).toEqual({ s: s.id, t: s.nextRunAt });
    expect(new Date(job.run_at).toISOString()).toBe(s.nextRunAt);

    expect((await t.api('GET', `/api/flows/${flowId}/schedules`)).body.schedules.map((x: any) => x.id)).toContain(s.id);

    const disabled = await t.api('PATCH', `/api/flows/${flowId}/schedules/${s.id}`, { enabled: false });
    expect(disabled.status).toBe(200);
    expect(disabled.body).toMatchObject({ enabled: false, nextRunAt: null });
    expect(await jobFor(s.id)).toBeUndefined();

    const retimed = await t.api('PATCH', `/api/flows/${flowId}/schedules/${s.id}`, { enabled: true, cron: '30 8 * * *', timezone: 'UTC', catchUp: 'latest' });
    expect(retimed.body).toMatchObject({ enabled: true, cron: '30 8 * * *', catchUp: 'latest' });
    expect(retimed.body.nextRunAt).toMatch(/T08:30:00\.000Z$/);
    expect((await jobFor(s.id)).payload.t).toBe(retimed.body.nextRunAt);

    expect((await t.api('DELETE', `/api/flows/${flowId}/schedules/${s.id}`)).status).toBe(200);
    expect(await jobFor(s.id)).toBeUndefined();
    expect((await t.api('DELETE', `/api/flows/${flowId}/schedules/${s.id}`)).status).toBe(404);
    expect((await t.api('PATCH', `/api/flows/${flowId}/schedules/${s.id}`, { enabled: false })).status).toBe(404);
  });

  it('refuses bad input precisely and stores nothing', async () => {
    const before = (await t.api('GET', `/api/flows/${flowId}/schedules`)).body.schedules.length;
    const cases: [unknown, string][] = [
      [{ cron: '61 * * * *' }, 'cron'],
      [{ cron: '0 0 0 * * * *' }, 'cron'],
      [{ cron: '0 9 * * *', timezone: 'Mars/Olympus' }, 'timezone'],
      [{ cron: '0 9 * * *', catchUp: 'all' }, 'catchUp'],
      [{ cron: '0 9 * * *', extra: 1 }, ''],
      [{}, 'cron'],
    ];
    for (const [body, field] of cases) {
      const r = await t.api('POST', `/api/flows/${flowId}/schedules`, body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.body.error.code).toBe('validation_failed');
      if (field) expect(JSON.stringify(r.body.error.details)).toContain(field);
    }
    expect((await t.api('POST', `/api/flows/00000000-0000-4000-8000-000000000000/schedules`, { cron: '0 9 * * *' })).status).toBe(404);
    expect((await t.api('GET', `/api/flows/${flowId}/schedules`)).body.schedules.length).toBe(before);
  });
});

describe('ticks', () => {
  it('a every-second schedule starts runs that carry their trigger, and the runs list shows it', async () => {
    const s = (await t.api('POST', `/api/flows/${flowId}/schedules`, { cron: '* * * * * *', input: { n: 1 } })).body;
    const runs = await eventually(async () => {
      const r = await scheduledRuns(s.id);
      return r.length >= 2 && r;
    });
    await t.api('PATCH', `/api/flows/${flowId}/schedules/${s.id}`, { enabled: false });
    expect(runs[0].trigger).toEqual({ type: 'schedule', scheduleId: s.id, scheduledFor: expect.stringMatching(/\.000Z$/) });
    const listed = (await t.api('GET', `/api/runs?flowId=${flowId}&limit=50`)).body.runs;
    expect(listed.find((r: any) => r.id === runs[0].id).trigger).toMatchObject({ type: 'schedule', scheduleId: s.id });
    const apiRun = await t.api('POST', `/api/flows/${flowId}/run`, { input: {} });
    expect((await t.api('GET', `/api/runs/${apiRun.body.runId}`)).body.trigger).toEqual({ type: 'api' });
  });

  it('the same tick job run twice (a process died after starting the run) starts one run', async () => {
    const s = (await t.api('POST', `/api/flows/${flowId}/schedules`, { cron: '0 0 1 1 *' })).body;
    const now = new Date(new Date(s.nextRunAt).getTime() + 500);
    await scheduleTickJob({ s: s.id, t: s.nextRunAt }, now);
    // The second delivery finds next_run_at moved on: superseded, nothing started.
    await scheduleTickJob({ s: s.id, t: s.nextRunAt }, now);
    // And a repeat of the start itself (next_run_at not yet moved) returns the run of the first.
    await getPool().query('UPDATE stitch_schedules SET next_run_at = $2 WHERE id = $1', [s.id, s.nextRunAt]);
    await scheduleTickJob({ s: s.id, t: s.nextRunAt }, now);
    const runs = await scheduledRuns(s.id);
    expect(runs.map((r) => r.trigger.scheduledFor)).toEqual([s.nextRunAt]);
    await t.api('DELETE', `/api/flows/${flowId}/schedules/${s.id}`);
  });

  it('missed ticks: catchUp "none" skips them, "latest" runs the most recent once; both resume with the next tick', async () => {
    for (const catchUp of ['none', 'latest'] as const) {
      const s = (await t.api('POST', `/api/flows/${flowId}/schedules`, { cron: '0 * * * *', catchUp })).body;
      const tick = new Date(s.nextRunAt);
      // Five hours of downtime after the tick was due (misfire threshold: 60 s).
      const now = new Date(tick.getTime() + 5 * 3600_000 + 10 * 60_000);
      await scheduleTickJob({ s: s.id, t: s.nextRunAt }, now);
      const runs = await scheduledRuns(s.id);
      if (catchUp === 'none') expect(runs).toEqual([]);
      else expect(runs.map((r) => r.trigger)).toEqual([{ type: 'schedule', scheduleId: s.id, scheduledFor: new Date(tick.getTime() + 5 * 3600_000).toISOString(), catchUp: true }]);
      const after = (await t.api('GET', `/api/flows/${flowId}/schedules`)).body.schedules.find((x: any) => x.id === s.id);
      expect(after.nextRunAt).toBe(new Date(tick.getTime() + 6 * 3600_000).toISOString());
      expect((await jobFor(s.id)).payload.t).toBe(after.nextRunAt);
      await t.api('DELETE', `/api/flows/${flowId}/schedules/${s.id}`);
    }
  });

  it('after a catch-up, a tick already due when its job was placed is late, not missed: no second catch-up', async () => {
    const s = (await t.api('POST', `/api/flows/${flowId}/schedules`, { cron: '* * * * *', catchUp: 'latest' })).body;
    const tick = new Date(s.nextRunAt).getTime();
    // Five minutes down; the catch-up runs 30 s into the sixth (misfire threshold: 60 s).
    const caughtUpAt = new Date(tick + 5 * 60_000 + 30_000);
    await scheduleTickJob({ s: s.id, t: s.nextRunAt }, caughtUpAt);
    const next = (await jobFor(s.id)).payload.t;
    expect(next).toBe(new Date(tick + 5 * 60_000).toISOString()); // due already: within the threshold at the catch-up
    // A slow queue takes that job 80 s after its tick (missed, by the tick alone), 50 s after it was placed.
    await scheduleTickJob({ s: s.id, t: next }, new Date(tick + 5 * 60_000 + 80_000), caughtUpAt);
    expect((await scheduledRuns(s.id)).map((r) => r.trigger)).toEqual([
      { type: 'schedule', scheduleId: s.id, scheduledFor: new Date(tick + 4 * 60_000).toISOString(), catchUp: true },
      { type: 'schedule', scheduleId: s.id, scheduledFor: next },
    ]);
    await t.api('DELETE', `/api/flows/${flowId}/schedules/${s.id}`);
  });

  it('a tick late by less than the misfire threshold (a quick restart) still runs, as itself', async () => {
    const s = (await t.api('POST', `/api/flows/${flowId}/schedules`, { cron: '0 * * * *' })).body;
    const tick = new Date(s.nextRunAt);
    await scheduleTickJob({ s: s.id, t: s.nextRunAt }, new Date(tick.getTime() + 45_000));
    expect((await scheduledRuns(s.id)).map((r) => r.trigger)).toEqual([{ type: 'schedule', scheduleId: s.id, scheduledFor: s.nextRunAt }]);
    expect((await jobFor(s.id)).payload.t).toBe(new Date(tick.getTime() + 3600_000).toISOString());
    await t.api('DELETE', `/api/flows/${flowId}/schedules/${s.id}`);
  });

  it("a deleted flow's schedule stops; a refused start loses its tick but not the schedule", async () => {
    const other = (await t.api('POST', '/api/flows', { name: 'short-lived', graph: transformFlow })).body.id;
    const s = (await t.api('POST', `/api/flows/${other}/schedules`, { cron: '0 * * * *' })).body;
    // The flow's current version vanishes from under the schedule (as if refused): startRun throws NotFound.
    await getPool().query('UPDATE stitch_flows SET current_version_id = NULL WHERE id = $1', [other]);
    await scheduleTickJob({ s: s.id, t: s.nextRunAt }, new Date(new Date(s.nextRunAt).getTime() + 100));
    const moved = (await jobFor(s.id)).payload.t;
    expect(moved).toBe(new Date(new Date(s.nextRunAt).getTime() + 3600_000).toISOString());
    expect(await scheduledRuns(s.id)).toEqual([]);

    await t.api('DELETE', `/api/flows/${other}`);
    await scheduleTickJob({ s: s.id, t: moved }, new Date(new Date(moved).getTime() + 100));
    const { rows } = await getPool().query('SELECT next_run_at FROM stitch_schedules WHERE id = $1', [s.id]);
    expect(rows[0].next_run_at.toISOString()).toBe(moved); // not advanced: no next tick placed
    expect(await scheduledRuns(s.id)).toEqual([]);
  });

  it('a tick superseded by a PATCH starts nothing', async () => {
    const s = (await t.api('POST', `/api/flows/${flowId}/schedules`, { cron: '0 0 1 1 *' })).body;
    await t.api('PATCH', `/api/flows/${flowId}/schedules/${s.id}`, { cron: '0 0 2 1 *' });
    await scheduleTickJob({ s: s.id, t: s.nextRunAt }, new Date(new Date(s.nextRunAt).getTime() + 100));
    expect(await scheduledRuns(s.id)).toEqual([]);
    await t.api('DELETE', `/api/flows/${flowId}/schedules/${s.id}`);
  });
});

/**
 * Schedules across real processes on one database. Two `worker` processes and a 1-second schedule
 * for 10 s: one run per tick, none missing, none twice. Then a restart across ticks: a worker stops,
 * ticks pass with no process running, another starts — catchUp "none" skips the ticks missed,
 * "latest" runs the most recent of them once; both resume on time.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getConfig } from '@/lib/config';
import { createFlow } from '@/lib/engine/flows';
import { getPool } from '@/lib/db/pool';
import { createSchedule, updateSchedule } from '@/lib/schedules/store';
import { startStitch, type StitchInstance } from '@/lib/stitch';
import { createTestDatabase } from '../db';
import { eventually, graph } from '../helpers';
import { spawnStitch, type StitchProcess } from './processes';

// A tick that runs later than this counts as missed. Generous: a loaded machine (CI, two suites at
// once) can start a worker's ticks seconds late, and a late tick must not read as a missed one.
const MISFIRE_SECONDS = 8;
/** How long no process runs ticks in the restart test: well past the misfire threshold. */
const DOWN_SECONDS = 20;
let db: { url: string; drop: () => Promise<void> };
let stitch: StitchInstance;
let flowId: string;
const spawned: StitchProcess[] = [];

function startWorker(): StitchProcess {
  const p = spawnStitch(['worker', '--concurrency', '4'], {
    DATABASE_URL: db.url,
    STITCH_SECRET: 'schedule-processes-secret-0123',
    STITCH_HEARTBEAT_SECONDS: '1',
    STITCH_SCHEDULE_MISFIRE_SECONDS: String(MISFIRE_SECONDS),
  });
  spawned.push(p);
  return p;
}

interface TickRun {
  scheduledFor: number;
  catchUp: boolean;
}

async function ticksOf(scheduleId: string): Promise<TickRun[]> {
  const { rows } = await getPool().query(`SELECT trigger FROM stitch_runs WHERE trigger->>'scheduleId' = $1`, [scheduleId]);
  return rows
    .map((r) => ({ scheduledFor: Date.parse(r.trigger.scheduledFor), catchUp: r.trigger.catchUp === true }))
    .sort((a, b) => a.scheduledFor - b.scheduledFor);
}

const sleepUntil = (at: number) => new Promise((resolve) => setTimeout(resolve, Math.max(0, at - Date.now())));

beforeAll(async () => {
  db = await createTestDatabase();
  // This process only reads and writes rows (no queue runner): the ticks run in the worker processes.
  stitch = await startStitch({ runner: false, config: getConfig({ DATABASE_URL: db.url, STITCH_SECRET: 'schedule-processes-secret-0123', STITCH_LOG_LEVEL: 'warn' }) });
  flowId = (await createFlow('ticking', graph(['start:start', 'end:end'], [['start', 'end']]))).id;
}, 60_000);

afterAll(async () => {
  await Promise.all(spawned.map((p) => p.stop()));
  await stitch?.stop();
  await db?.drop();
});

describe('schedules across processes', () => {
  it('two processes, a 1-second schedule for 10 s: one run per tick, none missing, none twice', async () => {
    const workers = [startWorker(), startWorker()];
    await Promise.all(workers.map((w) => w.waitFor(/Stitch worker \S+ is ready/)));
    const schedule = await createSchedule(flowId, { cron: '* * * * * *', timezone: 'UTC', input: {}, enabled: true, catchUp: 'none' });
    const firstTick = Date.parse(schedule.nextRunAt!);
    // Wait (by condition) until the tick 10 s after the first has its run, then stop the schedule.
    await eventually(async () => (await ticksOf(schedule.id)).some((r) => r.scheduledFor >= firstTick + 10_000), 40_000);
    await updateSchedule(flowId, schedule.id, { enabled: false });
    // The last tick's run exists but may still be executing: every run completes (none failed) before the workers stop.
    const unfinished = async () =>
      (await getPool().query(`SELECT count(*)::int AS n FROM stitch_runs WHERE trigger->>'scheduleId' = $1 AND status <> 'completed'`, [schedule.id])).rows[0].n as number;
    await eventually(async () => (await unfinished()) === 0, 40_000);
    await Promise.all(workers.map((w) => w.stop()));

    const ticks = (await ticksOf(schedule.id)).map((r) => r.scheduledFor);
    expect(ticks[0]).toBe(firstTick);
    expect(new Set(ticks).size).toBe(ticks.length); // none twice
    const gaps = ticks.slice(1).map((t, i) => t - ticks[i]);
    expect(gaps.every((g) => g === 1000), `gaps between ticks: ${gaps.join(',')}`).toBe(true); // none missing
    expect(ticks.length).toBeGreaterThanOrEqual(11);
  }, 90_000);

  it('a restart across ticks: "none" skips the missed ticks, "latest" runs the most recent once, both resume', async () => {
    const cron = '*/2 * * * * *';
    const a = startWorker();
    await a.waitFor(/Stitch worker \S+ is ready/);
    const none = await createSchedule(flowId, { cron, timezone: 'UTC', input: {}, enabled: true, catchUp: 'none' });
    const latest = await createSchedule(flowId, { cron, timezone: 'UTC', input: {}, enabled: true, catchUp: 'latest' });
    await eventually(async () => (await ticksOf(none.id)).length > 0 && (await ticksOf(latest.id)).length > 0, 30_000);
    expect(await a.stop()).toBe(0);
    const stoppedAt = Date.now(); // no process runs ticks from here…
    await sleepUntil(stoppedAt + DOWN_SECONDS * 1000);
    const restartedAt = Date.now(); // …to here
    const b = startWorker();
    await b.waitFor(/Stitch worker \S+ is ready/);
    await eventually(
      async () => (await ticksOf(none.id)).some((r) => r.scheduledFor > restartedAt) && (await ticksOf(latest.id)).some((r) => r.scheduledFor > restartedAt),
      30_000,
    );
    await updateSchedule(flowId, none.id, { enabled: false });
    await updateSchedule(flowId, latest.id, { enabled: false });
    await b.stop();

    // Ticks due in this window passed while no process ran, and more than the misfire threshold before any could.
    const missedWindow = (r: TickRun) => r.scheduledFor > stoppedAt && r.scheduledFor < restartedAt - MISFIRE_SECONDS * 1000;
    for (const id of [none.id, latest.id]) {
      const ticks = (await ticksOf(id)).map((r) => r.scheduledFor);
      expect(new Set(ticks).size).toBe(ticks.length);
    }
    const noneTicks = await ticksOf(none.id);
    expect(noneTicks.filter(missedWindow)).toEqual([]);
    expect(noneTicks.filter((r) => r.catchUp)).toEqual([]);

    const latestTicks = await ticksOf(latest.id);
    const caughtUp = latestTicks.filter((r) => r.catchUp);
    expect(caughtUp.length).toBe(1);
    expect(caughtUp[0].scheduledFor).toBeGreaterThan(stoppedAt - 2000);
    expect(caughtUp[0].scheduledFor).toBeLessThan(Date.now() - MISFIRE_SECONDS * 1000);
    // Apart from that one run, the missed ticks were not run.
    expect(latestTicks.filter(missedWindow).filter((r) => !r.catchUp)).toEqual([]);
  }, 150_000);
});

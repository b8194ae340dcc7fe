/**
 * The `stitch_schedule` job: one per schedule, for the tick in its payload. Its steps, each safe to
 * repeat if a process dies between them (the queue runs the job again):
 *
 * 1. The tick must still be the schedule's `next_run_at` (a PATCH or DELETE supersedes it).
 * 2. On time (at most STITCH_SCHEDULE_MISFIRE_SECONDS late): start the run for this tick. Later,
 *    the processes were down when it was due: every tick up to now − misfire was missed, and the
 *    schedule's catchUp decides — "none" starts nothing, "latest" starts the last of them once.
 *    Lateness counts from when the tick's job was placed, if that was after the tick: the ticks
 *    just after a catch-up are already due when their jobs are placed, and a slow queue must not
 *    make them "missed" again (that was a second catch-up run).
 * 3. Start runs through `startRun`, the one start path, with the schedule's budgetUsd (if set) and
 *    the idempotency key ("schedule:<id>", tick) written in the run's own commit: a repeat of step
 *    3 returns that run.
 * 4. Compare-and-set `next_run_at` to the following tick and place its job, in one statement.
 */
import { getPool } from '@/lib/db/pool';
import { advanceSchedule, findLiveSchedule } from '@/lib/db/queries/schedules';
import { StitchError } from '@/lib/errors';
import { startRun } from '@/lib/engine/start-run';
import { getLogger } from '@/lib/log';
import { runtimeConfig } from '@/lib/runtime';
import { lastTickAtOrBefore, nextTick } from './cron';

export interface ScheduleTickPayload {
  /** schedule id */
  s: string;
  /** the tick, ISO 8601 */
  t: string;
}

/** What a run started by a schedule carries as its `trigger`. */
export interface ScheduleTrigger {
  type: 'schedule';
  scheduleId: string;
  scheduledFor: string;
  /** Set on the one run a "latest" schedule starts for ticks missed while no process ran. */
  catchUp?: true;
}

/** `placedAt`: when the queue job for this tick was added (graphile's `created_at`). */
export async function scheduleTickJob(payload: ScheduleTickPayload, now = new Date(), placedAt?: Date): Promise<void> {
  // A deleted flow's schedules stop here: no run, no next tick.
  const schedule = await findLiveSchedule(getPool(), payload.s);
  if (!schedule?.enabled || schedule.nextRunAt === null || new Date(schedule.nextRunAt).getTime() !== new Date(payload.t).getTime()) return;

  const tick = new Date(payload.t);
  const misfireMs = runtimeConfig().scheduleMisfireSeconds * 1000;
  let runFor: Date | null = null;
  let resumeAfter: Date;
  let missed = false;
  const dueAt = Math.max(tick.getTime(), placedAt?.getTime() ?? 0);
  if (now.getTime() - dueAt <= misfireMs) {
    runFor = tick;
    resumeAfter = tick;
  } else {
    missed = true;
    resumeAfter = new Date(now.getTime() - misfireMs);
    if (schedule.catchUp === 'latest') runFor = lastTickAtOrBefore(schedule, resumeAfter);
    getLogger().info(
      { scheduleId: schedule.id, missedFrom: payload.t, missedTo: resumeAfter.toISOString(), catchUp: schedule.catchUp },
      runFor ? 'schedule: ticks were missed while no process ran; running the latest once' : 'schedule: ticks were missed while no process ran; skipping them',
    );
  }

  let runId: string | null = null;
  if (runFor) {
    const scheduledFor = runFor.toISOString();
    const trigger: ScheduleTrigger = { type: 'schedule', scheduleId: schedule.id, scheduledFor, ...(missed ? { catchUp: true as const } : {}) };
    try {
      const run = await startRun(
        { flowId: schedule.flowId },
        {
          input: schedule.input,
          budgetUsd: schedule.budgetUsd ?? undefined,
          tags: schedule.tags,
          priority: schedule.priority,
          trigger: { ...trigger },
          idempotency: { scope: `schedule:${schedule.id}`, key: scheduledFor, requestHash: 'schedule-tick' },
        },
      );
      runId = run.runId;
    } catch (error) {
      // A start the engine refuses (bad input, a limit) loses this tick, not the schedule: the next
      // tick is placed below. Infrastructure errors throw, and the queue runs this job again.
      if (!(error instanceof StitchError)) throw error;
      getLogger().warn({ scheduleId: schedule.id, scheduledFor, error: error.message }, 'schedule: the run for this tick was refused');
    }
  }

  const next = nextTick(schedule, resumeAfter);
  await advanceSchedule(getPool(), schedule.id, tick, next, runId);
}

/**
 * Schedules (`stitch_schedules`, 0010_schedules_and_vault.sql). Each write that changes when a
 * schedule next fires changes, in the same statement, the one queue job keyed to it
 * (`stitch:schedule:<id>`): a schedule and its pending tick never disagree, whichever process
 * wrote last.
 */
import type { Schedule, ScheduleCatchUp } from '@/types/stitch';
import type { Queryable } from './queryable';
import { iso } from '../rows';
import { MICROS, UUID_KEY, decodeCursor, fromMicros, micros, pageOf, type PageRequest } from './keyset-cursor';

export interface ScheduleFields {
  cron: string;
  timezone: string;
  input: unknown;
  enabled: boolean;
  catchUp: ScheduleCatchUp;
  /** Spend cap in USD of every run it starts; absent or null: the flow's default. */
  budgetUsd?: number | null;
  /** Tags and priority of every run it starts (checked by the caller); absent: none, 0. */
  tags?: Record<string, string>;
  priority?: number;
}

interface ScheduleDbRow {
  id: string;
  flow_id: string;
  cron: string;
  timezone: string;
  input: unknown;
  enabled: boolean;
  catch_up: ScheduleCatchUp;
  budget_usd: number | null;
  tags: Record<string, string>;
  priority: number;
  next_run_at: Date | null;
  last_run_at: Date | null;
  last_run_id: string | null;
  created_at: Date;
  updated_at: Date;
}

const toSchedule = (r: ScheduleDbRow): Schedule => ({
  id: r.id,
  flowId: r.flow_id,
  cron: r.cron,
  timezone: r.timezone,
  input: r.input,
  enabled: r.enabled,
  catchUp: r.catch_up,
  budgetUsd: r.budget_usd,
  tags: r.tags,
  priority: r.priority,
  nextRunAt: iso(r.next_run_at),
  lastRunAt: iso(r.last_run_at),
  lastRunId: r.last_run_id,
  createdAt: r.created_at.toISOString(),
  updatedAt: r.updated_at.toISOString(),
});

/**
 * SQL that (re)places the schedule's tick job for `s.next_run_at` (`$tick`, the same instant as
 * ISO text, so the job's payload names it exactly). A locked job (a tick running now) keeps
 * running; graphile-worker clears its key, and it finds its tick superseded when it ends.
 */
const PLACE_JOB = `graphile_worker.add_job('stitch_schedule', json_build_object('s', s.id, 't', $tick::text),
                     run_at => s.next_run_at, max_attempts => 10, job_key => 'stitch:schedule:' || s.id)`;
/** Removes the tick job unless it runs now (removing a locked job would strand it: see 0006). */
const REMOVE_JOB = `(SELECT count(graphile_worker.remove_job(j.key)) FROM graphile_worker.jobs j
                     WHERE j.key = 'stitch:schedule:' || s.id AND j.locked_at IS NULL)`;

/** A new schedule, its first tick job placed when `next` is set. */
export async function insertSchedule(db: Queryable, flowId: string, fields: ScheduleFields, next: Date | null): Promise<Schedule> {
  const { rows } = await db.query<ScheduleDbRow>(
    `WITH s AS (
       INSERT INTO stitch_schedules (flow_id, cron, timezone, input, enabled, catch_up, next_run_at, budget_usd, tags, priority)
       VALUES ($1, $2, $3, $4::jsonb, $5, $6, $7, $9, $10::jsonb, $11) RETURNING *
     )
     SELECT s.*, CASE WHEN s.next_run_at IS NOT NULL THEN ${PLACE_JOB.replaceAll('$tick', '$8')} END AS job FROM s`,
    // $8 repeats $7 as text: one parameter cannot be both timestamptz and the payload's exact ISO text.
    [flowId, fields.cron, fields.timezone, JSON.stringify(fields.input ?? {}), fields.enabled, fields.catchUp, iso(next), iso(next), fields.budgetUsd ?? null,
     JSON.stringify(fields.tags ?? {}), fields.priority ?? 0],
  );
  return toSchedule(rows[0]);
}

/** How many schedules a flow has. */
export async function countSchedules(db: Queryable, flowId: string): Promise<number> {
  const { rows } = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM stitch_schedules WHERE flow_id = $1', [flowId]);
  return rows[0].n;
}

/** One page of a flow's schedules, oldest first (keyset on created_at, id: ./keyset-cursor.ts). */
export async function listSchedules(db: Queryable, flowId: string, page: PageRequest): Promise<{ schedules: Schedule[]; nextCursor: string | null }> {
  const after = decodeCursor(page.cursor, [MICROS, UUID_KEY]);
  const { rows } = await db.query<ScheduleDbRow & { created_key: string }>(
    `SELECT *, ${micros('created_at')} AS created_key FROM stitch_schedules
     WHERE flow_id = $1 AND ($2::bigint IS NULL OR (created_at, id) > (${fromMicros('$2')}, $3::uuid))
     ORDER BY created_at, id LIMIT $4`,
    [flowId, after?.[0] ?? null, after?.[1] ?? null, page.limit + 1],
  );
  const { rows: schedules, nextCursor } = pageOf(rows, page.limit, (r) => [r.created_key, r.id]);
  return { schedules: schedules.map(toSchedule), nextCursor };
}

export async function findSchedule(db: Queryable, flowId: string, scheduleId: string): Promise<Schedule | undefined> {
  const { rows } = await db.query<ScheduleDbRow>('SELECT * FROM stitch_schedules WHERE id = $1 AND flow_id = $2', [scheduleId, flowId]);
  return rows[0] && toSchedule(rows[0]);
}

/** A schedule whose flow is live (a deleted flow's schedules stop). */
export async function findLiveSchedule(db: Queryable, scheduleId: string): Promise<Schedule | undefined> {
  const { rows } = await db.query<ScheduleDbRow>(
    'SELECT s.* FROM stitch_schedules s JOIN stitch_flows f ON f.id = s.flow_id AND f.deleted_at IS NULL WHERE s.id = $1',
    [scheduleId],
  );
  return rows[0] && toSchedule(rows[0]);
}

/** Store new fields; `retime`: the tick job is replaced for `next` (or removed when `next` is null). */
export async function updateSchedule(
  db: Queryable,
  flowId: string,
  scheduleId: string,
  fields: ScheduleFields,
  next: Date | null,
  retime: boolean,
): Promise<Schedule | undefined> {
  const { rows } = await db.query<ScheduleDbRow>(
    `WITH s AS (
       UPDATE stitch_schedules SET cron = $3, timezone = $4, input = $5::jsonb, enabled = $6, catch_up = $7, next_run_at = $8, budget_usd = $11,
                                  tags = $12::jsonb, priority = $13, updated_at = now()
       WHERE id = $1 AND flow_id = $2 RETURNING *
     )
     SELECT s.*,
            CASE WHEN NOT $9 THEN NULL WHEN s.next_run_at IS NOT NULL THEN ${PLACE_JOB.replaceAll('$tick', '$10')}::text ELSE ${REMOVE_JOB}::text END AS job
     FROM s`,
    [scheduleId, flowId, fields.cron, fields.timezone, JSON.stringify(fields.input ?? {}), fields.enabled, fields.catchUp, iso(next), retime, iso(next), fields.budgetUsd ?? null,
     JSON.stringify(fields.tags ?? {}), fields.priority ?? 0],
  );
  return rows[0] && toSchedule(rows[0]);
}

/** Delete a schedule and its pending tick job; false when there was none. */
export async function deleteSchedule(db: Queryable, flowId: string, scheduleId: string): Promise<boolean> {
  const { rows } = await db.query(
    `WITH s AS (DELETE FROM stitch_schedules WHERE id = $1 AND flow_id = $2 RETURNING id) SELECT ${REMOVE_JOB} AS removed FROM s`,
    [scheduleId, flowId],
  );
  return rows.length > 0;
}

/**
 * Compare-and-set `next_run_at` from the tick that ran to the following one (null: none), record
 * the run it started, and place the next tick's job, in one statement.
 */
export async function advanceSchedule(db: Queryable, scheduleId: string, tick: Date, next: Date | null, runId: string | null): Promise<void> {
  await db.query(
    `WITH s AS (
       UPDATE stitch_schedules
       SET next_run_at = $3, last_run_at = CASE WHEN $4::uuid IS NULL THEN last_run_at ELSE now() END,
           last_run_id = coalesce($4::uuid, last_run_id)
       WHERE id = $1 AND next_run_at = $2 AND enabled RETURNING *
     )
     SELECT CASE WHEN s.next_run_at IS NOT NULL THEN ${PLACE_JOB.replaceAll('$tick', '$5')}::text END AS job
     FROM s`,
    [scheduleId, tick, next, runId, iso(next)],
  );
}

/**
 * Place the tick job of every enabled schedule with a next tick (after `stitch import-data`, whose
 * rows arrive without their queue jobs). A tick already past is late, and its catchUp decides.
 */
export async function placeAllScheduleTicks(db: Queryable): Promise<number> {
  const { rows } = await db.query<{ id: string; next_run_at: Date }>('SELECT id, next_run_at FROM stitch_schedules WHERE enabled AND next_run_at IS NOT NULL');
  for (const r of rows) {
    await db.query(`SELECT ${PLACE_JOB.replaceAll('$tick', '$2')} FROM stitch_schedules s WHERE s.id = $1`, [r.id, iso(r.next_run_at)]);
  }
  return rows.length;
}

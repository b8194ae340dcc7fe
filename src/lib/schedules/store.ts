/**
 * Schedules (table from migration 0010). Each write that changes when a schedule next fires
 * changes, in the same statement, the one queue job keyed to it (`stitch:schedule:<id>`): a
 * schedule and its pending tick never disagree, whichever process wrote last.
 */
import type { Schedule, ScheduleCatchUp } from '@/types/stitch';
import { getFlow } from '@/lib/db/flows';
import { getPool } from '@/lib/db/pool';
import { isUuid } from '@/lib/db/runs';
import { NotFoundError } from '@/lib/errors';
import { checkBudgetUsd } from '@/lib/budget/budget';
import { checkCronSpec, nextTick } from './cron';

export type { Schedule };
export type CatchUp = ScheduleCatchUp;

export interface ScheduleFields {
  cron: string;
  timezone: string;
  input: unknown;
  enabled: boolean;
  catchUp: CatchUp;
  /** Spend cap in USD of every run it starts; absent or null: the flow's default. */
  budgetUsd?: number | null;
}

interface ScheduleDbRow {
  id: string;
  flow_id: string;
  cron: string;
  timezone: string;
  input: unknown;
  enabled: boolean;
  catch_up: CatchUp;
  budget_usd: number | null;
  next_run_at: Date | null;
  last_run_at: Date | null;
  last_run_id: string | null;
  created_at: Date;
  updated_at: Date;
}

const iso = (d: Date | null) => (d ? d.toISOString() : null);

export const toSchedule = (r: ScheduleDbRow): Schedule => ({
  id: r.id,
  flowId: r.flow_id,
  cron: r.cron,
  timezone: r.timezone,
  input: r.input,
  enabled: r.enabled,
  catchUp: r.catch_up,
  budgetUsd: r.budget_usd,
  nextRunAt: iso(r.next_run_at),
  lastRunAt: iso(r.last_run_at),
  lastRunId: r.last_run_id,
  createdAt: r.created_at.toISOString(),
  updatedAt: r.updated_at.toISOString(),
});

export const scheduleJobKey = (id: string) => `stitch:schedule:${id}`;

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

function firstTick(fields: ScheduleFields, now = new Date()): Date | null {
  return fields.enabled ? nextTick(fields, now) : null;
}

export async function createSchedule(flowId: string, fields: ScheduleFields): Promise<Schedule> {
  checkCronSpec(fields);
  const budgetUsd = fields.budgetUsd ?? null;
  checkBudgetUsd(budgetUsd);
  await getFlow(flowId);
  const next = firstTick(fields);
  const { rows } = await getPool().query<ScheduleDbRow>(
    `WITH s AS (
       INSERT INTO stitch_schedules (flow_id, cron, timezone, input, enabled, catch_up, next_run_at, budget_usd)
       VALUES ($1, $2, $3, $4::jsonb, $5, $6, $7, $9) RETURNING *
     )
     SELECT s.*, CASE WHEN s.next_run_at IS NOT NULL THEN ${PLACE_JOB.replaceAll('$tick', '$8')} END AS job FROM s`,
    // $8 repeats $7 as text: one parameter cannot be both timestamptz and the payload's exact ISO text.
    [flowId, fields.cron, fields.timezone, JSON.stringify(fields.input ?? {}), fields.enabled, fields.catchUp, iso(next), iso(next), budgetUsd],
  );
  return toSchedule(rows[0]);
}

export async function listSchedules(flowId: string): Promise<Schedule[]> {
  await getFlow(flowId);
  const { rows } = await getPool().query<ScheduleDbRow>('SELECT * FROM stitch_schedules WHERE flow_id = $1 ORDER BY created_at, id', [flowId]);
  return rows.map(toSchedule);
}

export async function getSchedule(flowId: string, scheduleId: string): Promise<Schedule> {
  if (!isUuid(flowId) || !isUuid(scheduleId)) throw new NotFoundError(`Schedule ${scheduleId}`);
  const { rows } = await getPool().query<ScheduleDbRow>('SELECT * FROM stitch_schedules WHERE id = $1 AND flow_id = $2', [scheduleId, flowId]);
  if (!rows[0]) throw new NotFoundError(`Schedule ${scheduleId}`);
  return toSchedule(rows[0]);
}

/**
 * Change a schedule. A new expression, time zone or enabled flag fires from now on (the pending
 * tick is replaced); a change of input, catchUp or budgetUsd alone keeps the pending tick.
 */
export async function updateSchedule(flowId: string, scheduleId: string, patch: Partial<ScheduleFields>): Promise<Schedule> {
  const current = await getSchedule(flowId, scheduleId);
  const fields: ScheduleFields = {
    cron: patch.cron ?? current.cron,
    timezone: patch.timezone ?? current.timezone,
    input: patch.input === undefined ? current.input : patch.input,
    enabled: patch.enabled ?? current.enabled,
    catchUp: patch.catchUp ?? current.catchUp,
    budgetUsd: patch.budgetUsd === undefined ? current.budgetUsd : patch.budgetUsd,
  };
  checkCronSpec(fields);
  checkBudgetUsd(fields.budgetUsd ?? null);
  const retime = fields.cron !== current.cron || fields.timezone !== current.timezone || fields.enabled !== current.enabled;
  const next = retime ? firstTick(fields) : current.nextRunAt ? new Date(current.nextRunAt) : null;
  const { rows } = await getPool().query<ScheduleDbRow>(
    `WITH s AS (
       UPDATE stitch_schedules SET cron = $3, timezone = $4, input = $5::jsonb, enabled = $6, catch_up = $7, next_run_at = $8, budget_usd = $11, updated_at = now()
       WHERE id = $1 AND flow_id = $2 RETURNING *
     )
     SELECT s.*,
            CASE WHEN NOT $9 THEN NULL WHEN s.next_run_at IS NOT NULL THEN ${PLACE_JOB.replaceAll('$tick', '$10')}::text ELSE ${REMOVE_JOB}::text END AS job
     FROM s`,
    [scheduleId, flowId, fields.cron, fields.timezone, JSON.stringify(fields.input ?? {}), fields.enabled, fields.catchUp, iso(next), retime, iso(next), fields.budgetUsd ?? null],
  );
  if (!rows[0]) throw new NotFoundError(`Schedule ${scheduleId}`);
  return toSchedule(rows[0]);
}

export async function deleteSchedule(flowId: string, scheduleId: string): Promise<void> {
  if (!isUuid(flowId) || !isUuid(scheduleId)) throw new NotFoundError(`Schedule ${scheduleId}`);
  const { rows } = await getPool().query(
    `WITH s AS (DELETE FROM stitch_schedules WHERE id = $1 AND flow_id = $2 RETURNING id) SELECT ${REMOVE_JOB} AS removed FROM s`,
    [scheduleId, flowId],
  );
  if (!rows[0]) throw new NotFoundError(`Schedule ${scheduleId}`);
}

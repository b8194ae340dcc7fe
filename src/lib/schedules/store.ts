/**
 * Schedules: checked (cron, time zone, the flow exists) and given their first tick here; stored,
 * with their tick job in the same statement, by src/lib/db/queries/schedules.ts.
 */
import type { Schedule, ScheduleCatchUp } from '@/types/stitch';
import { getFlow } from '@/lib/db/queries/flows';
import type { Limits } from '@/lib/config';
import { runtimeConfig } from '@/lib/runtime';
import { getPool, withTransaction } from '@/lib/db/pool';
import { lockCollection } from '@/lib/db/queries/advisory-locks';
import type { PageRequest } from '@/lib/db/queries/keyset-cursor';
import type { Queryable } from '@/lib/db/queries/queryable';
import {
  countSchedules,
  deleteSchedule as deleteScheduleRow,
  findSchedule,
  insertSchedule,
  listSchedules as listScheduleRows,
  updateSchedule as updateScheduleRow,
  type ScheduleFields,
} from '@/lib/db/queries/schedules';
import { isUuid } from '@/lib/db/runs';
import { LimitReachedError, NotFoundError, ValidationError } from '@/lib/errors';
import { checkBudgetUsd } from '@/lib/budget/budget-usd';
import { checkPriority, checkRunTags } from '@/lib/fair/run-tags';
import { checkCronSpec, nextTick } from './cron';

export type { Schedule };
export type CatchUp = ScheduleCatchUp;

export type { ScheduleFields };

export const scheduleJobKey = (id: string) => `stitch:schedule:${id}`;

function firstTick(fields: ScheduleFields, now = new Date()): Date | null {
  return fields.enabled ? nextTick(fields, now) : null;
}

/** A schedule's input is stored and sent with every run it starts: at most STITCH_MAX_SCHEDULE_INPUT_BYTES as JSON. */
function checkInputSize(input: unknown, limits: Limits): void {
  const bytes = Buffer.byteLength(JSON.stringify(input ?? {}));
  if (bytes > limits.scheduleInputBytes) {
    throw new ValidationError(`A schedule's input may be at most ${limits.scheduleInputBytes} bytes as JSON (STITCH_MAX_SCHEDULE_INPUT_BYTES); this one is ${bytes}.`, [
      { code: 'too_big', field: 'input', message: `at most ${limits.scheduleInputBytes} bytes` },
    ]);
  }
}

/** A new schedule; a flow has at most STITCH_MAX_SCHEDULES_PER_FLOW (409 `limit_reached`). */
export async function createSchedule(flowId: string, fields: ScheduleFields): Promise<Schedule> {
  const checked = checkScheduleFields(fields);
  return withTransaction(async (client) => {
    await getFlow(client, flowId);
    return createScheduleIn(client, flowId, checked);
  });
}

/** The one check of a schedule's fields (API, CLI, deploy); returns them with budget, tags and priority filled in. */
export function checkScheduleFields(fields: ScheduleFields): ScheduleFields & { budgetUsd: number | null; tags: Record<string, string>; priority: number } {
  const { limits } = runtimeConfig();
  checkCronSpec(fields);
  const budgetUsd = fields.budgetUsd ?? null;
  checkBudgetUsd(budgetUsd);
  const tags = checkRunTags(fields.tags, limits.runTags);
  const priority = checkPriority(fields.priority) ?? 0;
  checkInputSize(fields.input, limits);
  return { ...fields, budgetUsd, tags, priority };
}

/**
 * Store checked fields as a schedule of a flow known to exist, with its first tick, in the caller's
 * transaction (a deploy's): counted and inserted under the flow's schedules lock, so concurrent
 * additions cannot pass STITCH_MAX_SCHEDULES_PER_FLOW.
 */
export async function createScheduleIn(db: Queryable, flowId: string, checked: ScheduleFields): Promise<Schedule> {
  const { limits } = runtimeConfig();
  await lockCollection(db, `schedules:${flowId}`);
  const count = await countSchedules(db, flowId);
  if (count >= limits.schedulesPerFlow) throw new LimitReachedError(`Flow ${flowId} has ${count} schedules`, limits.schedulesPerFlow, 'STITCH_MAX_SCHEDULES_PER_FLOW');
  return insertSchedule(db, flowId, checked, firstTick(checked));
}

export async function listSchedules(flowId: string, page: PageRequest): Promise<{ schedules: Schedule[]; nextCursor: string | null }> {
  await getFlow(getPool(), flowId);
  return listScheduleRows(getPool(), flowId, page);
}

export async function getSchedule(flowId: string, scheduleId: string): Promise<Schedule> {
  if (!isUuid(flowId) || !isUuid(scheduleId)) throw new NotFoundError(`Schedule ${scheduleId}`);
  const schedule = await findSchedule(getPool(), flowId, scheduleId);
  if (!schedule) throw new NotFoundError(`Schedule ${scheduleId}`);
  return schedule;
}

/**
 * Change a schedule. A new expression, time zone or enabled flag fires from now on (the pending
 * tick is replaced); a change of input, catchUp, budgetUsd, tags or priority alone keeps the pending tick.
 */
export async function updateSchedule(flowId: string, scheduleId: string, patch: Partial<ScheduleFields>): Promise<Schedule> {
  if (patch.input !== undefined) checkInputSize(patch.input, runtimeConfig().limits);
  const current = await getSchedule(flowId, scheduleId);
  const fields: ScheduleFields = {
    cron: patch.cron ?? current.cron,
    timezone: patch.timezone ?? current.timezone,
    input: patch.input === undefined ? current.input : patch.input,
    enabled: patch.enabled ?? current.enabled,
    catchUp: patch.catchUp ?? current.catchUp,
    budgetUsd: patch.budgetUsd === undefined ? current.budgetUsd : patch.budgetUsd,
    tags: checkRunTags(patch.tags ?? current.tags, runtimeConfig().limits.runTags),
    priority: checkPriority(patch.priority) ?? current.priority,
  };
  checkCronSpec(fields);
  checkBudgetUsd(fields.budgetUsd ?? null);
  const retime = fields.cron !== current.cron || fields.timezone !== current.timezone || fields.enabled !== current.enabled;
  const next = retime ? firstTick(fields) : current.nextRunAt ? new Date(current.nextRunAt) : null;
  const updated = await updateScheduleRow(getPool(), flowId, scheduleId, fields, next, retime);
  if (!updated) throw new NotFoundError(`Schedule ${scheduleId}`);
  return updated;
}

export async function deleteSchedule(flowId: string, scheduleId: string): Promise<void> {
  if (!isUuid(flowId) || !isUuid(scheduleId)) throw new NotFoundError(`Schedule ${scheduleId}`);
  if (!(await deleteScheduleRow(getPool(), flowId, scheduleId))) throw new NotFoundError(`Schedule ${scheduleId}`);
}

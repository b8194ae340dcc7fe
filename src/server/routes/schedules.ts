/**
 * Schedules: start a flow at the ticks of a cron expression. `POST /api/flows/:id/schedules`
 * creates one; GET lists a flow's schedules; PATCH and DELETE `/api/flows/:id/schedules/:scheduleId`.
 * Runs they start carry `trigger: {type: "schedule", scheduleId, scheduledFor}` and the schedule's
 * `budgetUsd`, if set, and its `tags` and `priority` (docs/triggers.md).
 */
import { createRoute } from '@hono/zod-openapi';
import { createSchedule, deleteSchedule, listSchedules, updateSchedule } from '@/lib/schedules/store';
import { newRouter, z } from '../openapi';
import { FlowIdParams, NextCursor, OkSchema, PageQuery, RunPriority, RunTagsSchema, TriggerBudget, errors, json } from '../schemas';

const tags = ['Schedules'];

const ScheduleParams = FlowIdParams.extend({
  scheduleId: z.string().min(1).max(200).openapi({ param: { name: 'scheduleId', in: 'path' }, description: 'Schedule id (uuid)' }),
});

const Cron = z.string().trim().min(9).max(200).openapi({
  description: '5 fields (minute hour day month weekday), or 6 with seconds first',
  example: '0 9 * * 1-5',
});
const Timezone = z.string().trim().min(1).max(64).openapi({ description: 'IANA time zone the expression is read in', example: 'Europe/Berlin' });
const Input = z.record(z.string(), z.unknown()).openapi({ description: 'The input of every run it starts' });
const CatchUp = z.enum(['none', 'latest']).openapi({
  description: 'After downtime: "none" skips the ticks missed, "latest" runs the most recent of them once',
});

const CreateScheduleBody = z
  .object({
    cron: Cron,
    timezone: Timezone.optional(),
    input: Input.optional(),
    enabled: z.boolean().optional(),
    catchUp: CatchUp.optional(),
    budgetUsd: TriggerBudget.optional(),
    tags: RunTagsSchema.optional().openapi({ description: 'Tags of every run it starts' }),
    priority: RunPriority.optional().openapi({ description: 'Priority of every run it starts (default 0)' }),
  })
  .strict()
  .openapi('CreateSchedule');
const UpdateScheduleBody = z
  .object({
    cron: Cron.optional(),
    timezone: Timezone.optional(),
    input: Input.optional(),
    enabled: z.boolean().optional(),
    catchUp: CatchUp.optional(),
    budgetUsd: TriggerBudget.optional(),
    tags: RunTagsSchema.optional().openapi({ description: 'Tags of the runs it starts from now on (replaces the old tags)' }),
    priority: RunPriority.optional(),
  })
  .strict()
  .openapi('UpdateSchedule');

export const ScheduleSchema = z
  .object({
    id: z.string(),
    flowId: z.string(),
    cron: z.string(),
    timezone: z.string(),
    input: z.unknown(),
    enabled: z.boolean(),
    catchUp: CatchUp,
    budgetUsd: TriggerBudget,
    tags: RunTagsSchema,
    priority: z.number().int(),
    nextRunAt: z.string().nullable().openapi({ description: 'The next tick (null when disabled)' }),
    lastRunAt: z.string().nullable(),
    lastRunId: z.string().nullable(),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .openapi('Schedule');

export function scheduleRoutes() {
  const app = newRouter();

  app.openapi(
    createRoute({
      method: 'post',
      path: '/api/flows/{id}/schedules',
      tags,
      summary: 'Start the flow on a cron schedule (at most STITCH_MAX_SCHEDULES_PER_FLOW per flow: 409 limit_reached; input at most STITCH_MAX_SCHEDULE_INPUT_BYTES)',
      request: { params: FlowIdParams, body: { content: { 'application/json': { schema: CreateScheduleBody } }, required: true } },
      responses: { 201: json(ScheduleSchema, 'Created'), ...errors(400, 401, 404, 409) },
    }),
    async (c) => {
      const body = c.req.valid('json');
      const schedule = await createSchedule(c.req.valid('param').id, {
        cron: body.cron,
        timezone: body.timezone ?? 'UTC',
        input: body.input ?? {},
        enabled: body.enabled ?? true,
        catchUp: body.catchUp ?? 'none',
        budgetUsd: body.budgetUsd ?? null,
        tags: body.tags,
        priority: body.priority,
      });
      return c.json(schedule, 201);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/api/flows/{id}/schedules',
      tags,
      summary: "A flow's schedules, oldest first (paginated)",
      request: { params: FlowIdParams, query: PageQuery },
      responses: { 200: json(z.object({ schedules: z.array(ScheduleSchema), nextCursor: NextCursor }), 'One page of schedules'), ...errors(400, 401, 404) },
    }),
    async (c) => c.json(await listSchedules(c.req.valid('param').id, c.req.valid('query')), 200),
  );

  app.openapi(
    createRoute({
      method: 'patch',
      path: '/api/flows/{id}/schedules/{scheduleId}',
      tags,
      summary: 'Change a schedule (a new cron, time zone or enabled flag fires from now on; a new budgetUsd applies to the runs it starts next)',
      request: { params: ScheduleParams, body: { content: { 'application/json': { schema: UpdateScheduleBody } }, required: true } },
      responses: { 200: json(ScheduleSchema, 'Updated'), ...errors(400, 401, 404) },
    }),
    async (c) => {
      const { id, scheduleId } = c.req.valid('param');
      return c.json(await updateSchedule(id, scheduleId, c.req.valid('json')), 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'delete',
      path: '/api/flows/{id}/schedules/{scheduleId}',
      tags,
      summary: 'Delete a schedule (its pending tick is dropped)',
      request: { params: ScheduleParams },
      responses: { 200: json(OkSchema, 'Deleted'), ...errors(401, 404) },
    }),
    async (c) => {
      const { id, scheduleId } = c.req.valid('param');
      await deleteSchedule(id, scheduleId);
      return c.json({ ok: true as const }, 200);
    },
  );

  return app;
}

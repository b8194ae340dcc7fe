/**
 * Bulk actions on runs (src/lib/runs/bulk.ts): `POST /api/runs/bulk` counts (dry run) or starts a
 * bulk job; the job, its items and its progress stream are read back here. Registered before the
 * run routes: `/api/runs/bulk` is not a run id.
 */
import { createRoute } from '@hono/zod-openapi';
import type { Config } from '@/lib/config';
import { getPool } from '@/lib/db/pool';
import { listBulkItems, listBulkJobs } from '@/lib/db/queries/bulk-jobs';
import { isUuid } from '@/lib/db/rows';
import { ValidationError } from '@/lib/errors';
import { bulkDryRun, readBulkJob, startBulk } from '@/lib/runs/bulk';
import { newRouter, z } from '../openapi';
import { streamBulkJob } from '../events/bulk-stream';
import { errors, json } from '../schemas';

const tags = ['Bulk actions'];

const listOrOne = (item: z.ZodString, max: number) => z.union([item, z.array(item).max(max)]);

/** The run search's filter as JSON (the fields of GET /api/runs; `input` and `tag` as objects). */
export const RunFilterBody = z
  .object({
    ids: listOrOne(z.string().max(100), 1000).optional().openapi({ description: 'These runs (uuids)' }),
    flowId: z.string().max(100).optional(),
    status: listOrOne(z.string().max(40), 10).optional().openapi({ description: 'Any of these statuses' }),
    trigger: listOrOne(z.string().max(40), 10).optional().openapi({ description: 'Any of these trigger types' }),
    createdAfter: z.string().max(100).optional().openapi({ description: 'ISO 8601, or a duration back from now (`24h`)' }),
    createdBefore: z.string().max(100).optional(),
    finishedAfter: z.string().max(100).optional(),
    finishedBefore: z.string().max(100).optional(),
    costAbove: z.number().finite().min(0).optional(),
    costBelow: z.number().finite().min(0).optional(),
    error: z.string().max(200).optional(),
    input: z
      .record(z.string().max(1000), z.union([z.string().max(500), z.number().finite(), z.boolean(), z.null()]))
      .optional()
      .openapi({ description: '`{"dotted.path": value}`: a field of the run input equals the value', example: { topic: 'otters' } }),
    tag: z.record(z.string().max(100), z.string().max(500)).optional().openapi({ example: { customer: 'acme' } }),
  })
  .strict()
  .openapi('RunFilter');

const BulkRequestBody = z
  .object({
    action: z.enum(['cancel', 'retry', 'rerun']).openapi({
      description: 'cancel: pending and running runs; retry: every failed node of failed runs (existing retry path); rerun: finished runs (re-run machinery, latest version, same input)',
    }),
    filter: RunFilterBody.default({}),
    dryRun: z.boolean().default(false).openapi({ description: 'Only count the runs the action would touch' }),
  })
  .strict()
  .openapi('BulkRequest');

const BulkJobSchema = z
  .object({
    id: z.string(),
    action: z.enum(['cancel', 'retry', 'rerun']),
    filter: z.unknown().openapi({ description: 'The filter as posted' }),
    state: z.enum(['running', 'completed']),
    total: z.number().openapi({ description: 'Runs in the snapshot taken when the job was posted' }),
    done: z.number().openapi({ description: 'Runs worked so far (succeeded + skipped + failed)' }),
    succeeded: z.number(),
    skipped: z.number().openapi({ description: 'Runs that had moved on (finished, deleted, retried elsewhere) since the snapshot' }),
    failed: z.number(),
    createdAt: z.string(),
    finishedAt: z.string().nullable(),
  })
  .openapi('BulkJob');

const StartedBulkSchema = BulkJobSchema.extend({
  duplicate: z.boolean().openapi({ description: 'True: an identical request made this job within the last day; nothing new started' }),
  statusUrl: z.string(),
  eventsUrl: z.string(),
}).openapi('BulkJobStarted');

const BulkDryRunSchema = z
  .object({ dryRun: z.literal(true), action: z.string(), count: z.number(), max: z.number(), exceedsMax: z.boolean() })
  .openapi('BulkDryRun');

const BulkIdParams = z.object({ bulkId: z.string().min(1).max(200).openapi({ param: { name: 'bulkId', in: 'path' }, description: 'Bulk job id (uuid)' }) });
const PageQuery = z.object({
  limit: z.coerce.number().int().min(1).max(200).default(50).openapi({ param: { name: 'limit', in: 'query' } }),
  cursor: z.string().max(200).optional().openapi({ param: { name: 'cursor', in: 'query' }, description: '`nextCursor` of the previous page' }),
});

export function bulkRoutes(config: Config) {
  const app = newRouter();
  const urls = (id: string) => ({ statusUrl: `${config.baseUrl}/api/runs/bulk/${id}`, eventsUrl: `${config.baseUrl}/api/runs/bulk/${id}/events` });

  app.openapi(
    createRoute({
      method: 'post',
      path: '/api/runs/bulk',
      tags,
      summary: 'Cancel, retry or re-run every run a filter matches (or count them: dryRun)',
      description:
        `Takes a snapshot of the matching runs the action applies to (at most STITCH_MAX_BULK_RUNS, default 10,000: more is a 400) ` +
        `and works through it in batches on the queue. 202 with the job; an identical request (same action and filter) within a day ` +
        `answers 200 with that job and \`duplicate: true\`.`,
      request: { body: { content: { 'application/json': { schema: BulkRequestBody } }, required: true } },
      responses: {
        202: json(StartedBulkSchema, 'Started'),
        200: json(z.union([BulkDryRunSchema, StartedBulkSchema]), 'Dry run, or the job an identical request started'),
        ...errors(400, 401, 409, 413),
      },
    }),
    async (c) => {
      const body = c.req.valid('json');
      if (body.dryRun) return c.json(await bulkDryRun(body), 200);
      const { job, duplicate } = await startBulk(body);
      return c.json({ ...job, duplicate, ...urls(job.id) }, duplicate ? 200 : 202);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/api/runs/bulk',
      tags,
      summary: 'Bulk jobs, newest first (paginated; at most STITCH_MAX_BULK_JOBS are kept)',
      request: { query: PageQuery },
      responses: { 200: json(z.object({ jobs: z.array(BulkJobSchema), nextCursor: z.string().nullable() }), 'One page'), ...errors(400, 401) },
    }),
    async (c) => c.json(await listBulkJobs(getPool(), c.req.valid('query')), 200),
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/api/runs/bulk/{bulkId}',
      tags,
      summary: "A bulk job's progress",
      request: { params: BulkIdParams },
      responses: { 200: json(BulkJobSchema.extend({ statusUrl: z.string(), eventsUrl: z.string() }), 'The job'), ...errors(401, 404) },
    }),
    async (c) => {
      const job = await readBulkJob(c.req.valid('param').bulkId);
      return c.json({ ...job, ...urls(job.id) }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/api/runs/bulk/{bulkId}/items',
      tags,
      summary: 'The runs a bulk job acts on and what became of each (paginated by run id)',
      request: { params: BulkIdParams, query: PageQuery },
      responses: {
        200: json(
          z.object({
            items: z.array(
              z.object({
                runId: z.string(),
                state: z.enum(['pending', 'done', 'skipped', 'failed']),
                result: z.unknown().openapi({ description: 'done: `{runId}` of a re-run or `{retried}`; skipped, failed: `{reason}`' }),
              }),
            ),
            nextCursor: z.string().nullable(),
          }),
          'One page',
        ),
        ...errors(400, 401, 404),
      },
    }),
    async (c) => {
      const job = await readBulkJob(c.req.valid('param').bulkId);
      const { limit, cursor } = c.req.valid('query');
      if (cursor !== undefined && !isUuid(cursor)) {
        throw new ValidationError('The cursor is not valid: pass the nextCursor of a previous page.', [{ code: 'invalid_cursor', field: 'cursor', message: 'not a cursor returned by this API' }]);
      }
      const items = await listBulkItems(getPool(), job.id, { limit: limit + 1, after: cursor });
      const page = items.slice(0, limit);
      return c.json({ items: page, nextCursor: items.length > limit ? page[page.length - 1].runId : null }, 200);
    },
  );

  app.openAPIRegistry.registerPath(
    createRoute({
      method: 'get',
      path: '/api/runs/bulk/{bulkId}/events',
      tags,
      summary: "Live stream of a bulk job's progress (the job as JSON after each batch; ends when it completes)",
      request: {
        params: BulkIdParams,
        query: z.object({ api_key: z.string().optional().openapi({ description: 'The API key, for EventSource (which cannot send Authorization)' }) }),
      },
      responses: {
        200: { content: { 'text/event-stream': { schema: z.string().openapi({ description: '`data: <BulkJob JSON>` per change' }) } }, description: 'The progress stream' },
        ...errors(401, 404),
      },
    }),
  );
  app.get('/api/runs/bulk/:bulkId/events', async (c) => {
    const job = await readBulkJob(c.req.param('bulkId'));
    return streamBulkJob(c, job.id);
  });

  return app;
}

/**
 * Experiments: a flow's variants run over a dataset's rows, compared side by side
 * (docs/experiments.md). POST starts one; GET lists them (paginated) or gives one with its summary
 * and a page of rows; its events stream progress; cancel stops it; DELETE removes one that ended.
 */
import { createRoute } from '@hono/zod-openapi';
import { streamSSE } from 'hono/streaming';
import { cancelExperiment, createExperiment, deleteExperiment, getExperiment, listExperiments } from '@/lib/experiments/store';
import { newRouter, z } from '../openapi';
import { BudgetUsd, OkSchema, errors, json } from '../schemas';

const tags = ['Experiments'];

const ExperimentParams = z.object({ id: z.string().min(1).max(200).openapi({ param: { name: 'id', in: 'path' }, description: 'Experiment id (uuid)' }) });

const Variant = z
  .object({
    label: z.string().trim().min(1).max(64).regex(/^[^\p{Cc}]+$/u, 'no control characters'),
    version: z.union([z.number().int().min(1).max(2_147_483_647), z.literal('current')]).optional().openapi({ description: 'A saved version\'s number, or "current" (the default)' }),
    versionId: z.string().max(200).optional(),
    nodeOverrides: z
      .record(z.string().max(200), z.record(z.string(), z.unknown()))
      .optional()
      .openapi({ description: '`{<nodeId>: {config: {…}}}`, merged over those nodes\' data: a variant without saving a version' }),
  })
  .strict();

const CreateExperimentBody = z
  .object({
    flowId: z.string().max(200),
    datasetId: z.string().max(200).openapi({ description: 'Dataset id or name' }),
    datasetVersion: z.number().int().min(1).max(2_147_483_647).optional(),
    variants: z.array(Variant).min(1).max(1000),
    concurrency: z.number().int().min(1).max(1000).optional().openapi({ description: 'Runs in flight at once (default 10)' }),
    budgetUsd: BudgetUsd.nullable().optional().openapi({ description: 'Once the experiment\'s runs have spent this, it stops (failed, budget_exceeded)' }),
    scoring: z
      .object({
        assertions: z.array(z.string().min(1).max(4096)).max(100).optional().openapi({ description: 'Expressions over {input, output, expected}, e.g. `output.scenes.length >= 3`' }),
        judge: z.object({ flowId: z.string().max(200) }).strict().optional().openapi({ description: 'A flow given {input, output, expected} that returns {score, reason}' }),
      })
      .strict()
      .optional(),
  })
  .strict()
  .openapi('CreateExperiment');

const Cell = z.object({
  label: z.string(),
  row: z.number(),
  variant: z.number(),
  status: z.string().openapi({ description: 'pending (not started), running, completed, failed, cancelled' }),
  runId: z.string().nullable(),
  costUsd: z.number().nullable(),
  savedUsd: z.number().nullable(),
  durationMs: z.number().nullable(),
  passed: z.boolean().nullable(),
  score: z.number().nullable(),
  scoreDetail: z.unknown(),
  judgeRunId: z.string().nullable(),
  output: z.unknown(),
  error: z.string().nullable(),
});

export const ExperimentSchema = z
  .object({
    id: z.string(),
    flowId: z.string().nullable(),
    dataset: z.object({ id: z.string(), version: z.number() }),
    status: z.enum(['running', 'completed', 'failed', 'cancelled']),
    error: z.string().nullable(),
    variants: z.array(z.object({ label: z.string(), versionId: z.string(), version: z.number().nullable(), nodeOverrides: z.unknown().optional() })),
    scoring: z.unknown(),
    concurrency: z.number(),
    budgetUsd: z.number().nullable(),
    createdAt: z.string(),
    finishedAt: z.string().nullable(),
    progress: z.object({ cells: z.number(), done: z.number(), running: z.number() }),
    cost: z.object({ usd: z.number(), savedUsd: z.number().openapi({ description: 'What the shared (cached or reused) nodes cost where they executed: what the experiment did not pay again' }) }),
    summary: z.array(
      z.object({
        label: z.string(),
        variant: z.number(),
        cells: z.number(),
        completed: z.number(),
        failed: z.number(),
        running: z.number(),
        pending: z.number(),
        costUsd: z.number(),
        savedUsd: z.number(),
        p50Ms: z.number().nullable(),
        passRate: z.number().nullable(),
        meanScore: z.number().nullable(),
      }),
    ),
    rows: z.array(z.object({ idx: z.number(), input: z.unknown(), expected: z.unknown(), notes: z.string().nullable(), variants: z.array(Cell) })),
    nextCursor: z.string().nullable(),
  })
  .openapi('Experiment');

const PageQuery = z.object({
  limit: z.coerce.number().int().min(0).max(200).default(50).openapi({ param: { name: 'limit', in: 'query' }, description: 'Rows in this page (0: the summary only)' }),
  cursor: z.string().max(20).optional().openapi({ param: { name: 'cursor', in: 'query' }, description: '`nextCursor` of the previous page' }),
});
const ListQuery = z.object({
  flowId: z.uuid().optional().openapi({ param: { name: 'flowId', in: 'query' } }),
  limit: z.coerce.number().int().min(1).max(200).default(50).openapi({ param: { name: 'limit', in: 'query' } }),
  cursor: z.string().max(200).optional().openapi({ param: { name: 'cursor', in: 'query' }, description: '`nextCursor` of the previous page' }),
});
const EventsQuery = z.object({
  api_key: z.string().optional().openapi({ description: 'The API key, for EventSource (which cannot send Authorization)' }),
});

/** How often the progress stream looks at the experiment. */
const PROGRESS_POLL_MS = 500;

export function experimentRoutes() {
  const app = newRouter();

  app.openapi(
    createRoute({
      method: 'post',
      path: '/api/experiments',
      tags,
      summary: "Run a flow's variants over a dataset: each row once per variant, identical work executed once",
      request: { body: { content: { 'application/json': { schema: CreateExperimentBody } }, required: true } },
      responses: { 201: json(ExperimentSchema, 'Started'), ...errors(400, 401, 404, 409, 413) },
    }),
    async (c) => c.json(await createExperiment(c.req.valid('json')), 201),
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/api/experiments',
      tags,
      summary: 'List experiments, newest first (paginated)',
      request: { query: ListQuery },
      responses: { 200: json(z.object({ experiments: z.array(z.unknown()), nextCursor: z.string().nullable() }), 'One page'), ...errors(400, 401) },
    }),
    async (c) => c.json(await listExperiments(c.req.valid('query')), 200),
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/api/experiments/{id}',
      tags,
      summary: 'An experiment: status, cost and saving, a summary per variant, and a page of rows with every variant\'s cell',
      request: { params: ExperimentParams, query: PageQuery },
      responses: { 200: json(ExperimentSchema, 'The experiment'), ...errors(400, 401, 404) },
    }),
    async (c) => c.json(await getExperiment(c.req.valid('param').id, c.req.valid('query')), 200),
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/api/experiments/{id}/cancel',
      tags,
      summary: 'Stop an experiment: its open runs are cancelled',
      request: { params: ExperimentParams },
      responses: { 200: json(OkSchema, 'Cancelled'), ...errors(401, 404, 409) },
    }),
    async (c) => {
      await cancelExperiment(c.req.valid('param').id);
      return c.json({ ok: true as const }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'delete',
      path: '/api/experiments/{id}',
      tags,
      summary: 'Delete an experiment that has ended (its runs stay)',
      request: { params: ExperimentParams },
      responses: { 200: json(OkSchema, 'Deleted'), ...errors(401, 404, 409) },
    }),
    async (c) => {
      await deleteExperiment(c.req.valid('param').id);
      return c.json({ ok: true as const }, 200);
    },
  );

  app.openAPIRegistry.registerPath(
    createRoute({
      method: 'get',
      path: '/api/experiments/{id}/events',
      tags,
      summary: "Live progress: a `progress` message (the experiment's summary, no rows) whenever it changes, until it ends",
      request: { params: ExperimentParams, query: EventsQuery },
      responses: {
        200: { content: { 'text/event-stream': { schema: z.string().openapi({ description: '`event: progress` + `data: <Experiment JSON without rows>`' }) } }, description: 'The stream' },
        ...errors(401, 404),
      },
    }),
  );
  app.get('/api/experiments/:id/events', async (c) => {
    const id = c.req.param('id');
    const first = await getExperiment(id, { limit: 0 }); // 404 before the stream opens
    return streamSSE(c, async (stream) => {
      let last = '';
      let view = first;
      while (!stream.aborted) {
        const data = JSON.stringify(view);
        if (data !== last) await stream.writeSSE({ event: 'progress', data });
        last = data;
        if (view.status !== 'running') break;
        await stream.sleep(PROGRESS_POLL_MS);
        view = await getExperiment(id, { limit: 0 });
      }
    });
  });

  return app;
}

/**
 * Flows and versions: create (compiles and validates the graph), read, save a new version,
 * soft-delete, list versions; and starting a run of a flow's current version.
 */
import { createHash } from 'node:crypto';
import { createRoute } from '@hono/zod-openapi';
import type { Config } from '@/lib/config';
import { createFlow, updateFlow } from '@/lib/engine/flows';
import { deleteFlow, getFlow, getVersion, listFlows, listVersions } from '@/lib/db/queries/flows';
import { NotFoundError } from '@/lib/errors';
import { startRun } from '@/lib/engine/start-run';
import { setFlowBudget } from '@/lib/budget/budget';
import { checkAlerts } from '@/lib/alerts/spec';
import { withLastRunCost } from '@/lib/usage/run-cost';
import { newRouter, z } from '../openapi';
import {
  CreateFlowBody,
  FlowIdParams,
  FlowSchema,
  FlowSummarySchema,
  FlowVersionParams,
  NextCursor,
  OkSchema,
  PageQuery,
  RunBody,
  StartedRunSchema,
  UpdateFlowBody,
  VersionSchema,
  VersionSummarySchema,
  WarningsSchema,
  errors,
  json,
} from '../schemas';
import { getPool } from '@/lib/db/pool';

const tags = ['Flows'];
const optionalJson = <T extends z.ZodType>(schema: T) => ({ content: { 'application/json': { schema } }, required: false });

/** Same key, same request: the body's JSON with keys sorted, hashed. */
function requestHash(body: unknown): string {
  const canonical = (v: unknown): unknown =>
    Array.isArray(v) ? v.map(canonical) : v && typeof v === 'object' ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, canonical((v as Record<string, unknown>)[k])])) : v;
  return createHash('sha256').update(JSON.stringify(canonical(body ?? {}))).digest('hex');
}

const IdempotencyHeaders = z.object({
  'idempotency-key': z
    .string()
    .min(1)
    .max(255)
    .optional()
    .openapi({ description: 'Retry-safe start: the same key and body return the same run for STITCH_IDEMPOTENCY_HOURS (24 by default); the same key with another body is 409.' }),
});

export function flowRoutes(config: Config) {
  const app = newRouter();
  const alertLimits = { allowPrivate: config.webhookAllowPrivate, maxPerFlow: config.limits.alertsPerFlow };

  app.openapi(
    createRoute({
      method: 'post',
      path: '/api/flows',
      tags,
      summary: 'Create a flow from a React Flow graph',
      request: { body: { content: { 'application/json': { schema: CreateFlowBody } }, required: true } },
      responses: {
        201: json(z.object({ id: z.string(), versionId: z.string(), warnings: WarningsSchema }), 'Created; the graph is version 1'),
        ...errors(400, 401, 413),
      },
    }),
    async (c) => {
      const { name, graph, budgetUsd, alerts } = c.req.valid('json');
      const created = await createFlow(name, graph, { alerts: alerts && checkAlerts(alerts, alertLimits) });
      if (budgetUsd !== undefined) await setFlowBudget(created.id, budgetUsd);
      return c.json(created, 201);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/api/flows',
      tags,
      summary: 'List flows, most recently updated first (paginated)',
      request: { query: PageQuery },
      responses: { 200: json(z.object({ flows: z.array(FlowSummarySchema), nextCursor: NextCursor }), 'One page of flows'), ...errors(400, 401) },
    }),
    async (c) => {
      const { flows, nextCursor } = await listFlows(getPool(), c.req.valid('query'));
      return c.json({ flows: await withLastRunCost(flows), nextCursor }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/api/flows/{id}',
      tags,
      summary: "A flow with its current version's graph",
      request: { params: FlowIdParams },
      responses: { 200: json(FlowSchema, 'The flow'), ...errors(401, 404) },
    }),
    async (c) => c.json(await getFlow(getPool(), c.req.valid('param').id), 200),
  );

  app.openapi(
    createRoute({
      method: 'put',
      path: '/api/flows/{id}',
      tags,
      summary: 'Save a new version of a flow (and optionally rename it)',
      description:
        'A graph equal to the current version\'s (the same visual graph, positions included, hence the same compiled graph) ' +
        'creates no version: the answer is 200 with the current `versionId` and `unchanged: true` (a rename still applies).',
      request: { params: FlowIdParams, body: { content: { 'application/json': { schema: UpdateFlowBody } }, required: true } },
      responses: {
        200: json(
          z.object({ id: z.string(), versionId: z.string(), version: z.number(), unchanged: z.boolean(), warnings: WarningsSchema }),
          'The new version, or the current one when nothing changed (`unchanged: true`)',
        ),
        ...errors(400, 401, 404, 413),
      },
    }),
    async (c) => {
      const { graph, name, budgetUsd, alerts } = c.req.valid('json');
      const updated = await updateFlow(c.req.valid('param').id, graph, name, { alerts: alerts && checkAlerts(alerts, alertLimits) });
      if (budgetUsd !== undefined) await setFlowBudget(updated.id, budgetUsd);
      return c.json(updated, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'delete',
      path: '/api/flows/{id}',
      tags,
      summary: 'Delete a flow (its runs and versions stay readable)',
      request: { params: FlowIdParams },
      responses: { 200: json(OkSchema, 'Deleted'), ...errors(401, 404) },
    }),
    async (c) => {
      await deleteFlow(getPool(), c.req.valid('param').id);
      return c.json({ ok: true as const }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/api/flows/{id}/versions',
      tags,
      summary: 'Versions of a flow, newest first (paginated)',
      request: { params: FlowIdParams, query: PageQuery },
      responses: {
        200: json(z.object({ versions: z.array(VersionSummarySchema), nextCursor: NextCursor }), 'One page of versions'),
        ...errors(400, 401, 404),
      },
    }),
    async (c) => c.json(await listVersions(getPool(), c.req.valid('param').id, c.req.valid('query')), 200),
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/api/flows/{id}/versions/{versionId}',
      tags,
      summary: 'One immutable version: visual graph and compiled execution graph',
      request: { params: FlowVersionParams },
      responses: { 200: json(VersionSchema, 'The version'), ...errors(401, 404) },
    }),
    async (c) => {
      const { id, versionId } = c.req.valid('param');
      const version = await getVersion(getPool(), versionId);
      if (version.flowId !== id) throw new NotFoundError(`Version ${versionId} of flow ${id}`);
      return c.json(version, 200);
    },
  );

  // The seed's canvas path and the REST path start the same run.
  for (const path of ['/api/flows/{id}/run', '/api/canvas/{id}/run']) {
    app.openapi(
      createRoute({
        method: 'post',
        path,
        tags: ['Runs'],
        summary: "Run a flow's current version",
        description: 'Returns at once (202); the run proceeds on the queue. Follow it at `statusUrl` or over SSE.',
        request: {
          params: FlowIdParams,
          headers: IdempotencyHeaders,
          body: optionalJson(RunBody),
        },
        responses: {
          202: json(StartedRunSchema, 'Started'),
          200: json(StartedRunSchema, 'The run this Idempotency-Key started earlier (same request): nothing new started'),
          ...errors(400, 401, 404, 409, 413),
        },
      }),
      async (c) => {
        const body = c.req.valid('json') ?? {};
        const flowId = c.req.valid('param').id;
        const key = c.req.valid('header')['idempotency-key'];
        // Keys are scoped by the flow's canonical id: a uuid in lower case, as PostgreSQL prints it,
        // so the same flow is one scope however the URL spells its id.
        const scope = `flow:${flowId.toLowerCase()}`;
        const run = await startRun(
          { flowId },
          {
            input: body.input,
            budgetUsd: body.budgetUsd,
            tags: body.tags,
            priority: body.priority,
            trigger: { type: 'api' },
            idempotency: key ? { scope, key, requestHash: requestHash(body) } : undefined,
          },
        );
        return c.json(
          { runId: run.runId, versionId: run.versionId, status: run.status, statusUrl: `${config.baseUrl}/api/runs/${run.runId}` },
          run.duplicate ? 200 : 202,
        );
      },
    );
  }

  return app;
}

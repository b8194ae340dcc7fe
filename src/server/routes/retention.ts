/**
 * A flow's retention policy (src/lib/runs/retention.ts): how many days its finished runs are kept,
 * status by status, over the process default `STITCH_RETENTION`.
 */
import { createRoute } from '@hono/zod-openapi';
import type { Config } from '@/lib/config';
import { RETENTION_STATUSES } from '@/lib/config';
import { getPool } from '@/lib/db/pool';
import { getFlowRetention, setFlowRetention, type RetentionPolicyOverride } from '@/lib/db/queries/retention';
import { isUuid } from '@/lib/db/rows';
import { NotFoundError } from '@/lib/errors';
import { newRouter, z } from '../openapi';
import { errors, FlowIdParams, json } from '../schemas';

const tags = ['Retention'];

/** Up to a century: a bound, not a policy. */
const Days = z.number().finite().positive().max(36_500);

const Override = z
  .object({
    completed: Days.nullable().optional(),
    failed: Days.nullable().optional(),
    cancelled: Days.nullable().optional(),
  })
  .strict()
  .openapi('RetentionOverride', {
    description: 'Days a finished run of each status is kept. null: kept for ever; left out: as STITCH_RETENTION says.',
    example: { completed: 7, failed: 30 },
  });

const RetentionSchema = z
  .object({
    flowId: z.string(),
    retention: Override.nullable().openapi({ description: "The flow's own policy; null: STITCH_RETENTION's" }),
    effective: z
      .object({ completed: z.number().nullable(), failed: z.number().nullable(), cancelled: z.number().nullable() })
      .openapi({ description: 'Days each status is kept for this flow now (null: for ever)' }),
  })
  .openapi('FlowRetention');

export function retentionRoutes(config: Config) {
  const app = newRouter();

  const answer = (flowId: string, retention: RetentionPolicyOverride | null) => {
    const effective = Object.fromEntries(
      RETENTION_STATUSES.map((s) => [s, retention && s in retention ? (retention[s] ?? null) : (config.retention.policy[s] ?? null)]),
    ) as Record<(typeof RETENTION_STATUSES)[number], number | null>;
    return { flowId, retention, effective };
  };
  const read = async (flowId: string) => {
    const retention = isUuid(flowId) ? await getFlowRetention(getPool(), flowId) : undefined;
    if (retention === undefined) throw new NotFoundError(`Flow ${flowId}`);
    return retention;
  };

  app.openapi(
    createRoute({
      method: 'get',
      path: '/api/flows/{id}/retention',
      tags,
      summary: "How long the flow's finished runs are kept",
      request: { params: FlowIdParams },
      responses: { 200: json(RetentionSchema, 'The policy'), ...errors(401, 404) },
    }),
    async (c) => {
      const { id } = c.req.valid('param');
      return c.json(answer(id, await read(id)), 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'put',
      path: '/api/flows/{id}/retention',
      tags,
      summary: "Set the flow's own retention (null: follow STITCH_RETENTION)",
      description: 'Takes effect at the next pruning pass (the `stitch_prune` job, queued by this request when it sets a policy). No new flow version is saved.',
      request: {
        params: FlowIdParams,
        body: { content: { 'application/json': { schema: z.object({ retention: Override.nullable() }).strict() } }, required: true },
      },
      responses: { 200: json(RetentionSchema, 'The policy now'), ...errors(400, 401, 404) },
    }),
    async (c) => {
      const { id } = c.req.valid('param');
      const { retention } = c.req.valid('json');
      const clean = retention && Object.keys(retention).length ? (retention as RetentionPolicyOverride) : null;
      if (!isUuid(id) || !(await setFlowRetention(getPool(), id, clean))) throw new NotFoundError(`Flow ${id}`);
      return c.json(answer(id, clean), 200);
    },
  );

  return app;
}

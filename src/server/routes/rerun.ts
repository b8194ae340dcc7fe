/**
 * Re-runs (src/lib/rerun): `POST /api/runs/:runId/rerun` starts a run that reuses the source run's
 * unchanged work, or with `dryRun` says what would execute and what would be reused.
 */
import { createRoute } from '@hono/zod-openapi';
import type { Config } from '@/lib/config';
import { dryRun, rerun } from '@/lib/rerun/start-rerun';
import { newRouter, z } from '../openapi';
import { RunIdParams, RunPriority, RunTagsSchema, StartedRunSchema, errors, json } from '../schemas';

const RerunBody = z
  .object({
    fromNode: z.string().min(1).max(200).optional().openapi({ description: 'Force this node and everything downstream of it to execute' }),
    version: z.enum(['same', 'latest']).default('latest').openapi({ description: "`latest`: the flow's current version; `same`: the source run's" }),
    input: z.unknown().optional().openapi({ description: "Default: the source run's input" }),
    dryRun: z.boolean().default(false),
    budgetUsd: z.number().finite().min(0).optional().openapi({ description: 'Spend cap in USD (default: the flow\'s)' }),
    tags: RunTagsSchema.optional().openapi({ description: "The new run's tags (default: the source run's)" }),
    priority: RunPriority.optional().openapi({ description: "The new run's priority (default: the source run's)" }),
  })
  .strict()
  .openapi('RerunRequest');

const RerunStartedSchema = StartedRunSchema.extend({ rerunOf: z.string() }).openapi('RerunStarted');
const DryRunSchema = z
  .object({
    dryRun: z.literal(true),
    versionId: z.string(),
    execute: z.array(z.string()).openapi({ description: 'Worker and UX instances that will execute' }),
    reuse: z.array(z.string()).openapi({ description: "Source run instances whose output will be reused" }),
  })
  .openapi('RerunDryRun');

export function rerunRoutes(config: Config) {
  const app = newRouter();
  app.openapi(
    createRoute({
      method: 'post',
      path: '/api/runs/{runId}/rerun',
      tags: ['Runs'],
      summary: 'Run a run again, reusing the output of every node whose fingerprint did not change',
      description:
        'Returns at once (202) like a start; the new run carries `rerunOf`. Reused nodes complete with the source output, ' +
        '`origin: "reused"` and `reusedFrom`. With `dryRun: true`: 200 with what would execute and what would be reused; nothing starts.',
      request: { params: RunIdParams, body: { content: { 'application/json': { schema: RerunBody } }, required: false } },
      responses: {
        202: json(RerunStartedSchema, 'Started'),
        200: json(DryRunSchema, 'Dry run: nothing started'),
        ...errors(400, 401, 404, 413),
      },
    }),
    async (c) => {
      const { runId } = c.req.valid('param');
      const { dryRun: dry, ...options } = c.req.valid('json') ?? { version: 'latest' as const, dryRun: false };
      if (dry) return c.json({ dryRun: true as const, ...(await dryRun(runId, options)) }, 200);
      const run = await rerun(runId, options);
      return c.json(
        { runId: run.runId, versionId: run.versionId, status: run.status, rerunOf: run.rerunOf, statusUrl: `${config.baseUrl}/api/runs/${run.runId}` },
        202,
      );
    },
  );
  return app;
}

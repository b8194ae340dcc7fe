/**
 * Flows as files over HTTP (docs/flows-as-files.md), for `stitch export --url` and
 * `stitch deploy --url`: one flow as its file, and a deploy of a set of files (all or nothing).
 */
import { createRoute } from '@hono/zod-openapi';
import { getPool } from '@/lib/db/pool';
import { deployFlows } from '@/lib/flow-files/deploy';
import { exportFlows } from '@/lib/flow-files/export';
import { NotFoundError } from '@/lib/errors';
import { isUuid } from '@/lib/db/rows';
import { newRouter, z } from '../openapi';
import { FlowIdParams, errors, json } from '../schemas';

const tags = ['Flows'];

const FlowFileSchema = z
  .record(z.string(), z.unknown())
  .openapi('FlowFile', {
    description:
      'A flow as a file: `{name, budgetUsd, graph, schedules, triggers}` (docs/flows-as-files.md) — keys sorted, no database ids ' +
      '(a `flow` node names the flow it runs: `data.config.flowName`), never a secret',
  });

const DeployBody = z
  .object({
    flows: z
      .array(z.object({ where: z.string().min(1).max(300).openapi({ description: 'Where the file came from (its name), for messages' }), content: FlowFileSchema }).strict())
      .openapi({ description: 'The flow files (at most STITCH_MAX_DEPLOY_FLOWS)' }),
    dryRun: z.boolean().optional().openapi({ description: 'Check and report what would change; change nothing' }),
    message: z.string().max(1000).optional().openapi({ description: "Kept on every version the deploy makes (e.g. the commit's message)" }),
  })
  .strict()
  .openapi('Deploy');

const DeployReportSchema = z
  .object({
    dryRun: z.boolean(),
    flows: z.array(
      z.object({
        name: z.string(),
        where: z.string(),
        flowId: z.string(),
        change: z.enum(['created', 'updated', 'unchanged']),
        version: z.number(),
        budgetUsd: z.object({ from: z.number().nullable(), to: z.number().nullable() }).optional(),
        schedules: z.object({ added: z.number(), removed: z.number(), kept: z.number() }),
        triggers: z.object({ added: z.array(z.string()), changed: z.array(z.string()), removed: z.array(z.string()) }),
        secrets: z.array(z.object({ slug: z.string(), secret: z.string() })).openapi({ description: 'Signing secrets of the triggers this deploy created, shown this once' }),
        warnings: z.array(z.unknown()),
      }),
    ),
  })
  .openapi('DeployReport');

export function flowFileRoutes() {
  const app = newRouter();

  app.openapi(
    createRoute({
      method: 'get',
      path: '/api/flows/{id}/export',
      tags,
      summary: 'A flow as a file (what `stitch export` writes)',
      request: { params: FlowIdParams },
      responses: { 200: json(z.object({ fileName: z.string(), document: FlowFileSchema }), 'The flow file'), ...errors(401, 404) },
    }),
    async (c) => {
      const id = c.req.valid('param').id;
      // By id only here (a name could be a uuid-looking name of another flow).
      if (!isUuid(id)) throw new NotFoundError(`Flow ${id}`);
      const [flow] = await exportFlows(getPool(), [id]);
      if (!flow || flow.flowId !== id.toLowerCase()) throw new NotFoundError(`Flow ${id}`);
      return c.json({ fileName: flow.fileName, document: flow.document }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/api/deploy',
      tags,
      summary: 'Deploy flow files: create or update each flow by name, in one transaction (what `stitch deploy` does)',
      description:
        'Every file is checked first; any problem refuses the whole deploy (400, every problem listed) and changes nothing. ' +
        'A flow whose graph equals its current version gets no new version. A file\'s `schedules` and `triggers`, when present, become the flow\'s.',
      request: { body: { content: { 'application/json': { schema: DeployBody } }, required: true } },
      responses: { 200: json(DeployReportSchema, 'What the deploy did (or, with dryRun, would do)'), ...errors(400, 401, 409, 413) },
    }),
    async (c) => {
      const { flows, dryRun, message } = c.req.valid('json');
      return c.json(await deployFlows(flows, { dryRun, message }), 200);
    },
  );

  return app;
}

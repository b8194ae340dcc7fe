/**
 * Runs: list, status (two paths, one body), cancel; and the node actions a person takes from the
 * canvas — retry a failed node, answer a UX gate.
 */
import { createRoute } from '@hono/zod-openapi';
import { getRunWithNodes } from '@/lib/db/runs';
import { withReuseAndCost } from '@/lib/usage/run-cost';
import { cancelRun, retryNode } from '@/lib/engine/start-run';
import { answerUserTask } from '@/lib/engine/ux-gate';
import { newRouter, z } from '../openapi';
import { listRuns } from '@/lib/db/queries/list-runs';
import { filterSpecFromQuery, normalizeRunFilter } from '@/lib/runs/filter';
import { CompleteBody, OkSchema, RunIdParams, RunListQuery, RunListSchema, RunNodeParams, RunSchema, errors, json } from '../schemas';
import { getPool } from '@/lib/db/pool';

const tags = ['Runs'];

export function runRoutes() {
  const app = newRouter();

  app.openapi(
    createRoute({
      method: 'get',
      path: '/api/runs',
      tags,
      summary: 'Search runs, newest first (paginated)',
      description:
        'Every filter is optional; they combine with AND. Besides the parameters listed: `input.<dotted.path>=<value>` ' +
        '(a field of the run input equals the value, compared as text) and `tag.<key>=<value>`. Pages are keyset-paginated: ' +
        'runs started while paging never shift a page.',
      request: { query: RunListQuery },
      responses: { 200: json(RunListSchema, 'One page; pass nextCursor as cursor for the next'), ...errors(400, 401) },
    }),
    async (c) => {
      const { limit, cursor, ...query } = c.req.valid('query');
      const filter = normalizeRunFilter(filterSpecFromQuery(query as Record<string, string | string[] | undefined>, ['api_key']));
      return c.json(await listRuns(getPool(), filter, { limit, cursor }), 200);
    },
  );

  for (const path of ['/api/runs/{runId}', '/api/stitch/status/{runId}']) {
    app.openapi(
      createRoute({
        method: 'get',
        path,
        tags,
        summary: 'A run and the state of every node instance',
        request: { params: RunIdParams },
        responses: { 200: json(RunSchema, 'The run'), ...errors(401, 404) },
      }),
      async (c) => {
        const view = await withReuseAndCost(await getRunWithNodes(c.req.valid('param').runId));
        return c.json(view, 200);
      },
    );
  }

  app.openapi(
    createRoute({
      method: 'post',
      path: '/api/runs/{runId}/cancel',
      tags,
      summary: 'Cancel a run: open work is cancelled, later callbacks are refused',
      request: { params: RunIdParams },
      responses: { 200: json(OkSchema, 'Cancelled'), ...errors(401, 404, 409) },
    }),
    async (c) => {
      await cancelRun(c.req.valid('param').runId);
      return c.json({ ok: true as const }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/api/stitch/retry/{runId}/{nodeId}',
      tags,
      summary: 'Retry a failed node instance as a new attempt (a failed run runs again)',
      request: { params: RunNodeParams },
      responses: { 200: json(z.object({ ok: z.literal(true), attempt: z.number() }), 'Retrying'), ...errors(401, 404, 409) },
    }),
    async (c) => {
      const { runId, nodeId } = c.req.valid('param');
      const { attempt } = await retryNode(runId, nodeId);
      return c.json({ ok: true as const, attempt }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/api/stitch/complete/{runId}/{nodeId}',
      tags,
      summary: "Answer a UX gate waiting for a person's input",
      request: { params: RunNodeParams, body: { content: { 'application/json': { schema: CompleteBody } }, required: true } },
      responses: { 200: json(OkSchema, 'Answered; the node completes'), ...errors(400, 401, 404, 409, 413, 501) },
    }),
    async (c) => {
      const { runId, nodeId } = c.req.valid('param');
      await answerUserTask(runId, nodeId, c.req.valid('json').input ?? {});
      return c.json({ ok: true as const }, 200);
    },
  );

  return app;
}

/**
 * `GET /api/queues`: what waits for a concurrency or rate slot and what holds one, per limit (a
 * flow's runs, a node's concurrency, a node's rate) and per key — the busiest keys by name, the rest
 * summed as `other`, so the answer stays small however many customers there are (docs/limits.md).
 */
import { createRoute } from '@hono/zod-openapi';
import { getPool } from '@/lib/db/pool';
import { readFairLoad } from '@/lib/db/queries/fair';
import { newRouter, z } from '../openapi';
import { errors, json } from '../schemas';

/** Keys named per limit; the others are summed. The metrics use the same bound. */
export const TOP_KEYS = 10;

const KeyLoad = z.object({
  key: z.string().openapi({ description: "The key's value ('' without a key)" }),
  waiting: z.number(),
  active: z.number().openapi({ description: 'Concurrency: slots held now; rate: starts within the window' }),
  oldestWaitingSince: z.string().nullable(),
});

const QueueSchema = z
  .object({
    scope: z.string().openapi({ description: '`flow:<flow>`, `node:<flow>:<node>` or `rate:<flow>:<node>`' }),
    kind: z.enum(['concurrency', 'rate']),
    flowId: z.string().nullable(),
    flowName: z.string().nullable(),
    nodeId: z.string().nullable().openapi({ description: "Null: the limit is on the flow's runs" }),
    limit: z.number(),
    perSeconds: z.number().nullable(),
    keyName: z.string().nullable(),
    waiting: z.number(),
    active: z.number(),
    keys: z.array(KeyLoad),
    other: z.object({ keys: z.number(), waiting: z.number(), active: z.number() }).nullable(),
  })
  .openapi('Queue');

const QueueListQuery = z.object({
  limit: z.coerce.number().int().min(1).max(200).default(50).openapi({ param: { name: 'limit', in: 'query' } }),
  cursor: z.string().max(600).optional().openapi({ param: { name: 'cursor', in: 'query' }, description: '`nextCursor` of the previous page' }),
});

export function queueRoutes() {
  const app = newRouter();
  app.openapi(
    createRoute({
      method: 'get',
      path: '/api/queues',
      tags: ['Runs'],
      summary: 'Waiting and active work per concurrency or rate limit and key (paginated)',
      request: { query: QueueListQuery },
      responses: { 200: json(z.object({ queues: z.array(QueueSchema), nextCursor: z.string().nullable() }).openapi('QueueList'), 'One page'), ...errors(400, 401) },
    }),
    async (c) => {
      const { limit, cursor } = c.req.valid('query');
      const queues = await readFairLoad(getPool(), { limit, after: cursor, topKeys: TOP_KEYS });
      return c.json({ queues, nextCursor: queues.length === limit ? queues[queues.length - 1].scope : null }, 200);
    },
  );
  return app;
}

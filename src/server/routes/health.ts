/**
 * `GET /api/health`: 200 when the database answers (with the queue's state), 503 when it does not.
 * A `serve`-only process reports the runners it sees in the database; `queue.liveRunners: 0`
 * means runs will wait until a `worker` (or `start`) process comes up.
 */
import { createRoute } from '@hono/zod-openapi';
import type { Config } from '@/lib/config';
import { getLogger } from '@/lib/log';
import { newRouter, z } from '../openapi';
import { readQueueStats } from '@/lib/db/queries/queue-stats';
import { errorBody } from '../error-handler';
import { json } from '../schemas';
import { getPool } from '@/lib/db/pool';

const HealthSchema = z
  .object({
    status: z.enum(['ok', 'degraded']),
    database: z.literal('ok'),
    queue: z.object({ liveRunners: z.number(), ready: z.number(), scheduled: z.number(), locked: z.number() }),
  })
  .openapi('Health');

export function healthRoutes(config: Config) {
  const app = newRouter();
  app.openapi(
    createRoute({
      method: 'get',
      path: '/api/health',
      tags: ['Operations'],
      summary: 'Database and queue health (no API key needed)',
      responses: {
        200: json(HealthSchema, '`degraded` = no live queue runner'),
        503: json(z.object({ error: z.object({ code: z.string(), message: z.string() }) }), 'The database does not answer'),
      },
    }),
    async (c) => {
      try {
        const queue = await readQueueStats(getPool(), config.staleRunnerSeconds);
        return c.json({ status: queue.liveRunners > 0 ? ('ok' as const) : ('degraded' as const), database: 'ok' as const, queue }, 200);
      } catch (error) {
        getLogger().warn({ error: (error as Error).message }, 'health check: the database did not answer');
        return c.json(errorBody('unavailable', 'The database does not answer.'), 503);
      }
    },
  );
  return app;
}

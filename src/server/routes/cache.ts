/** `DELETE /api/cache` (optionally `?workerType=`): drop step-cache entries (src/lib/cache). */
import { createRoute } from '@hono/zod-openapi';
import { clearStepCache } from '@/lib/cache/step-cache';
import { newRouter, z } from '../openapi';
import { errors, json } from '../schemas';

export function cacheRoutes() {
  const app = newRouter();
  app.openapi(
    createRoute({
      method: 'delete',
      path: '/api/cache',
      tags: ['Runs'],
      summary: 'Clear the step cache (all entries, or one worker type\'s)',
      request: {
        query: z.object({ workerType: z.string().min(1).max(200).optional().openapi({ param: { name: 'workerType', in: 'query' } }) }),
      },
      responses: { 200: json(z.object({ deleted: z.number() }), 'Entries dropped'), ...errors(400, 401) },
    }),
    async (c) => c.json({ deleted: await clearStepCache(c.req.valid('query').workerType) }, 200),
  );
  return app;
}

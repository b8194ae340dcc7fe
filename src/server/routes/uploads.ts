/**
 * `PUT /api/uploads/<key>?expires=…&signature=…`: the presigned upload URL of local storage (see
 * src/lib/storage/presign.ts). Authenticated by its signature, not the API key; exempt from the
 * JSON body limit and streamed into storage, so a large file never sits in memory.
 */
import { createRoute } from '@hono/zod-openapi';
import { UnauthorizedError, ValidationError } from '@/lib/errors';
import { put } from '@/lib/storage';
import { verifyLocalUpload } from '@/lib/storage/presign';
import { newRouter, z } from '../openapi';
import { errors, json } from '../schemas';

export const UPLOAD_PATH = /^\/api\/uploads\//;

export function uploadRoutes() {
  const app = newRouter();
  app.openAPIRegistry.registerPath(
    createRoute({
      method: 'put',
      path: '/api/uploads/{key}',
      tags: ['Remote workers'],
      summary: 'Upload a file to a presigned URL (from POST /api/tasks/{taskId}/uploads)',
      request: {
        params: z.object({ key: z.string().openapi({ param: { name: 'key', in: 'path' }, description: 'Storage key (may contain /)' }) }),
        query: z.object({ expires: z.string(), signature: z.string() }),
      },
      responses: { 200: json(z.object({ ok: z.literal(true), url: z.string() }), 'Stored'), ...errors(400, 401) },
    }),
  );
  app.put('/api/uploads/*', async (c) => {
    const key = decodeURIComponent(c.req.path.replace(UPLOAD_PATH, ''));
    const check = verifyLocalUpload(key, c.req.query('expires'), c.req.query('signature'));
    if (check !== 'ok') throw new UnauthorizedError(`Invalid upload URL (${check})`);
    const body = c.req.raw.body;
    if (!body) throw new ValidationError('The upload has no body.');
    const url = await put(key, body, c.req.header('content-type') ?? 'application/octet-stream');
    return c.json({ ok: true as const, url }, 200);
  });
  return app;
}

/**
 * `PUT /api/uploads/<key>?expires=…&signature=…`: the presigned upload URL of local storage (see
 * src/lib/storage/presign.ts). Authenticated by its signature, not the API key. Before a byte of
 * the body is read: the signature (over key, expiry and task), the task's attempt still holding its
 * lease (409 once it settled), and no file stored under the key yet (409: never replaced). The body
 * — a file, whatever its content type — is streamed into storage: no JSON middleware and no body
 * limit apply here (app.ts).
 */
import { createRoute } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { getPool } from '@/lib/db/pool';
import { getRemoteTask } from '@/lib/db/queries/remote-tasks';
import { isUuid } from '@/lib/db/rows';
import { ConflictError, StitchError, UnauthorizedError, ValidationError } from '@/lib/errors';
import { alreadyStored, exists, put } from '@/lib/storage';
import { verifyLocalUpload } from '@/lib/storage/presign';
import { newRouter, z } from '../openapi';
import { errors, json } from '../schemas';

export const UPLOAD_PATH = /^\/api\/uploads\//;

/**
 * The storage key, from the path exactly as sent (the router's path is already partly decoded,
 * and decoding twice would turn `%2525` into `%`). A malformed escape is the caller's mistake.
 */
function keyOf(url: string): string {
  const path = /^[a-z][a-z0-9+.-]*:\/\/[^/]*(\/[^?#]*)/i.exec(url)?.[1] ?? '';
  try {
    return decodeURIComponent(path.replace(UPLOAD_PATH, ''));
  } catch {
    throw new ValidationError('The upload URL is malformed (an invalid percent-escape in its path).');
  }
}

/**
 * Refuse before reading the body: the connection closes after the answer, so a client still
 * sending a large body is not drained byte by byte.
 */
function refuse(c: Context, error: StitchError): never {
  if (c.req.raw.body) c.header('Connection', 'close');
  throw error;
}

export function uploadRoutes() {
  const app = newRouter();
  app.openAPIRegistry.registerPath(
    createRoute({
      method: 'put',
      path: '/api/uploads/{key}',
      tags: ['Remote workers'],
      summary: 'Upload a file to a presigned URL (from POST /api/tasks/{taskId}/uploads)',
      description:
        'The body is the file, streamed into storage whatever its content type. The signature is checked before the body is read; ' +
        'the URL is good while the task attempt it was granted to holds its lease (409 once it settled), and a stored file is never replaced (409).',
      request: {
        params: z.object({ key: z.string().openapi({ param: { name: 'key', in: 'path' }, description: 'Storage key (may contain /)' }) }),
        query: z.object({ task: z.string(), expires: z.string(), signature: z.string() }),
      },
      responses: { 200: json(z.object({ ok: z.literal(true), url: z.string() }), 'Stored'), ...errors(400, 401, 409) },
    }),
  );
  app.put('/api/uploads/*', async (c) => {
    let key: string;
    try {
      key = keyOf(c.req.url);
    } catch (error) {
      refuse(c, error as StitchError);
    }
    const taskId = c.req.query('task');
    const check = verifyLocalUpload(key, taskId, c.req.query('expires'), c.req.query('signature'));
    if (check !== 'ok') refuse(c, new UnauthorizedError(`Invalid upload URL (${check})`));
    // The URL is good while the attempt it was granted to holds its lease: not after it settled.
    const task = isUuid(taskId!) ? await getRemoteTask(getPool(), taskId!) : undefined;
    if (!task?.leaseCurrent) {
      refuse(c, new ConflictError(`Task ${taskId}'s attempt is over (${task ? (task.state === 'leased' ? 'its lease expired' : task.state) : 'gone'}): its upload URLs take no more files.`));
    }
    if (await exists(key)) refuse(c, alreadyStored(key));
    const body = c.req.raw.body;
    if (!body) throw new ValidationError('The upload has no body.');
    const url = await put(key, body, c.req.header('content-type') ?? 'application/octet-stream', { ifAbsent: true });
    return c.json({ ok: true as const, url }, 200);
  });
  return app;
}

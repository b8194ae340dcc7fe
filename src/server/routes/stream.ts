/**
 * `POST /api/stitch/stream/:runId/:nodeId?token=…`: streamed output from code that runs outside a
 * Stitch process — the HTTP worker host, remote workers (TypeScript and Python) — authorized like
 * a callback, by the node attempt's token (checked before the body is read). The parts are relayed
 * to the run's followers (`node:stream` over SSE) and kept in this process for readers that join
 * later; nothing is written to the database.
 */
import { createRoute } from '@hono/zod-openapi';
import { UnauthorizedError, ValidationError } from '@/lib/errors';
import { verifyCallbackToken } from '@/lib/host/callback-tokens';
import { streamRelay } from '@/lib/live/stream-relay';
import { newRouter, toFieldIssues, z } from '../openapi';
import { CallbackQuery, OkSchema, RunNodeParams, errors, json } from '../schemas';

/** One part as it travels (MAX_TEXT_PART characters of text, or a 4 KiB object, encode under this). */
const MAX_PART_BYTES = 6000;

const StreamBody = z
  .object({
    seq: z.number().int().min(0).max(1e9).openapi({ description: 'Number of the first part in the attempt\'s stream (0-based)' }),
    parts: z
      .array(z.union([z.string(), z.record(z.string(), z.unknown())]))
      .min(1)
      .max(100)
      .openapi({ description: 'Text (at most 1,000 characters a part) or JSON objects (at most 4 KiB), in order' }),
  })
  .strict()
  .openapi('StreamParts');

async function readBody(text: string): Promise<z.infer<typeof StreamBody>> {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new ValidationError('The body is not valid JSON.');
  }
  const parsed = StreamBody.safeParse(body);
  if (!parsed.success) throw new ValidationError('The body must be {seq, parts: [text or object, …]}.', toFieldIssues(parsed.error));
  const big = parsed.data.parts.findIndex((p) => Buffer.byteLength(JSON.stringify(p)) > MAX_PART_BYTES);
  if (big >= 0) throw new ValidationError(`Part ${big} is larger than ${MAX_PART_BYTES} bytes as JSON: cut text into parts of at most 1,000 characters.`);
  return parsed.data;
}

export function streamRoutes() {
  const app = newRouter();
  app.openAPIRegistry.registerPath(
    createRoute({
      method: 'post',
      path: '/api/stitch/stream/{runId}/{nodeId}',
      tags: ['Callbacks'],
      summary: "Stream partial output of a running node (outside code's and remote workers' streamOutput)",
      description:
        'Authenticated by the `token` of the node attempt (the one in its callback URL, or a remote task\'s), not by the API key. ' +
        'Parts are numbered per attempt from 0; a repeated part is harmless. Followers of the run receive them as `node:stream` ' +
        'SSE messages; nothing is stored.',
      request: { params: RunNodeParams, query: CallbackQuery, body: { content: { 'application/json': { schema: StreamBody } }, required: true } },
      responses: { 200: json(OkSchema, 'Relayed'), ...errors(400, 401, 413) },
    }),
  );
  app.post('/api/stitch/stream/:runId/:nodeId', async (c) => {
    const runId = c.req.param('runId');
    const instanceId = c.req.param('nodeId');
    const token = c.req.query('token');
    const check = verifyCallbackToken(token, runId, instanceId);
    if (!check.valid) throw new UnauthorizedError(token ? `Invalid stream token (${check.reason})` : 'The stream URL has no token');
    const { seq, parts } = await readBody(await c.req.text());
    await streamRelay().relay({ runId, instanceId, attempt: check.attempt }, seq, parts);
    return c.json({ ok: true as const }, 200);
  });
  return app;
}

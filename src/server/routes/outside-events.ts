/**
 * Events from outside, for `event` nodes (docs/nodes.md, docs/api.md):
 *
 * - `POST /api/events/:name {key, payload}` — behind the API key, or signed instead:
 *   `X-Stitch-Signature: sha256=<hex HMAC-SHA256(STITCH_EVENT_SECRET, raw body)>` (as webhooks are).
 *   Completes every node waiting for that name and key with the payload; the event is kept for
 *   STITCH_EVENT_RETENTION_SECONDS for nodes that start waiting later (at most
 *   STITCH_MAX_STORED_EVENTS at once: 409 limit_reached beyond).
 * - `GET /api/events/:name/waiting` — who waits for what, oldest first, paginated.
 */
import { createRoute } from '@hono/zod-openapi';
import type { Config } from '@/lib/config';
import { LimitReachedError, UnauthorizedError, ValidationError } from '@/lib/errors';
import { getPool } from '@/lib/db/pool';
import { listWaits } from '@/lib/db/queries/outside-events';
import { EVENT_NAME, MAX_EVENT_KEY, receiveOutsideEvent } from '@/lib/engine/event-node';
import { newRouter, toFieldIssues, z } from '../openapi';
import { errors, json } from '../schemas';
import { signatureMatches } from './webhooks';

/** `POST /api/events/<name>`: the one path a signature may stand in for the API key on. */
export const EVENT_PATH = /^\/api\/events\/[^/]+$/;
export const EVENT_SIGNATURE_HEADER = 'x-stitch-signature';

const EventNameParams = z.object({
  name: z
    .string()
    .regex(EVENT_NAME)
    .openapi({ param: { name: 'name', in: 'path' }, description: 'The event name (letters, digits and . _ : -, at most 200 characters)', example: 'payment.succeeded' }),
});

const EventBody = z
  .object({
    key: z.string().min(1).max(MAX_EVENT_KEY).openapi({ description: 'What waiting nodes match on (their rendered config.match), e.g. an order id' }),
    payload: z.unknown().optional().openapi({ description: 'Becomes the output of every node it completes (default null)' }),
  })
  .strict()
  .openapi('OutsideEvent');

const ReceivedSchema = z
  .object({
    eventId: z.string().openapi({ description: 'The stored event' }),
    delivered: z.number().int().openapi({ description: 'Waiting nodes it completes' }),
  })
  .openapi('ReceivedEvent');

const WaitingQuery = z.object({
  key: z.string().min(1).max(MAX_EVENT_KEY).optional().openapi({ param: { name: 'key', in: 'query' }, description: 'Only waits for this key' }),
  limit: z.coerce.number().int().min(1).max(200).default(50).openapi({ param: { name: 'limit', in: 'query' } }),
  cursor: z.string().max(300).optional().openapi({ param: { name: 'cursor', in: 'query' }, description: '`nextCursor` of the previous page' }),
});

const WaitingSchema = z
  .object({
    waiting: z.array(
      z.object({
        runId: z.string(),
        instanceId: z.string(),
        attempt: z.number().int(),
        key: z.string(),
        since: z.string().openapi({ description: 'When the node started waiting' }),
        deadlineAt: z.string().nullable().openapi({ description: 'When it fails without its event (null: no timeout)' }),
      }),
    ),
    nextCursor: z.string().nullable(),
  })
  .openapi('EventWaits');

function parseEvent(raw: Uint8Array): z.infer<typeof EventBody> {
  let body: unknown;
  try {
    body = JSON.parse(Buffer.from(raw).toString('utf8'));
  } catch {
    throw new ValidationError('The body must be JSON: {key, payload}.');
  }
  const parsed = EventBody.safeParse(body);
  if (!parsed.success) throw new ValidationError('The body must be {key: non-empty text, payload?: any JSON}.', toFieldIssues(parsed.error));
  return parsed.data;
}

function checkName(name: string): string {
  if (!EVENT_NAME.test(name)) {
    throw new ValidationError('The event name is letters, digits and . _ : - (at most 200 characters), starting with a letter or digit.', [
      { code: 'invalid_event_name', field: 'name', message: 'not an event name' },
    ]);
  }
  return name;
}

export function outsideEventRoutes(config: Config) {
  const app = newRouter();
  const tags = ['Events'];

  app.openAPIRegistry.registerPath(
    createRoute({
      method: 'post',
      path: '/api/events/{name}',
      tags,
      summary: 'Send an event: completes every event node waiting for this name and key',
      description:
        'Authenticated by the API key, or by `X-Stitch-Signature: sha256=<hex HMAC-SHA256(STITCH_EVENT_SECRET, raw body)>` instead. ' +
        'The event is also kept for STITCH_EVENT_RETENTION_SECONDS, so a node of a run that started before it and waits for it later still gets it.',
      request: {
        params: EventNameParams,
        headers: z.object({ 'x-stitch-signature': z.string().optional().openapi({ description: 'Instead of the API key: sha256=<hex HMAC of the raw body>' }) }),
        body: { content: { 'application/json': { schema: EventBody } }, required: true },
      },
      responses: { 200: json(ReceivedSchema, 'Stored and delivered'), ...errors(400, 401, 409, 413) },
    }),
  );
  app.post('/api/events/:name', async (c) => {
    const signature = c.req.header(EVENT_SIGNATURE_HEADER);
    // A signed request skipped the API key: without a secret to check it against, it is refused
    // before its body is read.
    if (signature !== undefined && !config.eventSecret) throw new UnauthorizedError('Signed events need STITCH_EVENT_SECRET on the server; send the API key instead.');
    const name = checkName(c.req.param('name'));
    const raw = new Uint8Array(await c.req.arrayBuffer());
    if (signature !== undefined && !signatureMatches(config.eventSecret!, raw, signature)) throw new UnauthorizedError('The event signature is not valid.');
    const { key, payload } = parseEvent(raw);
    const received = await receiveOutsideEvent(name, key, payload);
    if (received.eventId === null) throw new LimitReachedError('Stored events', config.limits.storedEvents, 'STITCH_MAX_STORED_EVENTS');
    return c.json({ eventId: received.eventId, delivered: received.delivered }, 200);
  });

  app.openapi(
    createRoute({
      method: 'get',
      path: '/api/events/{name}/waiting',
      tags,
      summary: 'Event nodes waiting for an event, oldest first (paginated)',
      request: { params: EventNameParams, query: WaitingQuery },
      responses: { 200: json(WaitingSchema, 'One page; pass nextCursor as cursor for the next'), ...errors(400, 401) },
    }),
    async (c) => {
      const { name } = c.req.valid('param');
      const { key, limit, cursor } = c.req.valid('query');
      return c.json(await listWaits(getPool(), name, { key, limit, cursor }), 200);
    },
  );
  return app;
}

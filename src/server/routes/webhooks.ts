/**
 * Webhook triggers. `POST /api/flows/:id/triggers` creates one and returns its secret once; an
 * external system then starts the flow with `POST /api/webhooks/:slug`, signing the raw body:
 * `X-Stitch-Signature: sha256=<hex HMAC-SHA256(secret, body)>` (GitHub's `X-Hub-Signature-256`
 * is accepted too). The JSON body becomes the run input. A trigger without a secret refuses
 * everything; a repeated `X-Stitch-Delivery` / `X-GitHub-Delivery` id starts no second run.
 * A trigger's `budgetUsd` (set at creation or by PATCH) is the budget of every run it starts; its
 * `tags` are templates over the body (`{"customer": "{{account.id}}"}`) giving each run its tags.
 */
import { createHmac, timingSafeEqual, createHash } from 'node:crypto';
import { createRoute } from '@hono/zod-openapi';
import type { Config } from '@/lib/config';
import { NotFoundError, StitchError, UnauthorizedError, ValidationError } from '@/lib/errors';
import { startRun } from '@/lib/engine/start-run';
import type { RunTags } from '@/lib/fair/run-tags';
import { renderTemplate } from '@/lib/workers/transform';
import { newRouter, z } from '../openapi';
import { claimDelivery, createTrigger, deleteTrigger, findTriggerBySlug, listTriggers, recordDeliveryRun, releaseDelivery, updateTrigger, type Trigger } from '@/lib/db/queries/triggers';
import {
  CreateTriggerBody,
  CreatedTriggerSchema,
  FlowIdParams,
  NextCursor,
  OkSchema,
  PageQuery,
  StartedRunSchema,
  TriggerSchema,
  UpdateTriggerBody,
  WebhookParams,
  errors,
  json,
} from '../schemas';
import { getPool, withTransaction } from '@/lib/db/pool';

const SIGNATURE = /^sha256=([0-9a-f]{64})$/i;

/** True when `header` is `sha256=<hex>` of the HMAC of `body` under `secret` (constant time). */
export function signatureMatches(secret: string, body: Uint8Array, header: string | undefined): boolean {
  const hex = header ? SIGNATURE.exec(header.trim())?.[1] : undefined;
  if (!hex) return false;
  const expected = createHmac('sha256', secret).update(body).digest();
  return timingSafeEqual(expected, Buffer.from(hex, 'hex'));
}

/** How a sender signs a body for a trigger (tests, docs, the CLI). */
export function signBody(secret: string, body: string | Uint8Array): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

function parseInput(body: Uint8Array): unknown {
  const text = Buffer.from(body).toString('utf8');
  if (text.trim() === '') return {};
  try {
    return JSON.parse(text);
  } catch {
    throw new ValidationError('The webhook body must be JSON (it becomes the run input).');
  }
}

/**
 * The stored key of a delivery id: the id itself, or — past 200 characters — a digest of the whole
 * id, so two deliveries that differ anywhere stay two deliveries (cutting them merged them).
 */
export function deliveryKey(id: string | undefined): string | undefined {
  if (!id) return undefined;
  return id.length <= 200 ? id : `sha256:${createHash('sha256').update(id).digest('hex')}`;
}

/**
 * Tags from templates over a payload (a webhook trigger's mapping): each value is a template like
 * the transform worker's (`"{{account.id}}"`, `"org-{{org}}"`) or a constant. A tag whose template
 * renders to nothing is left out; a rendered value is a string (numbers and booleans as text).
 */
function renderRunTags(templates: RunTags, payload: unknown): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, template] of Object.entries(templates)) {
    const value = renderTemplate(template, payload);
    if (value === undefined || value === null || value === '') continue;
    out[name] = typeof value === 'object' ? JSON.stringify(value) : String(value);
  }
  return out;
}

export function webhookRoutes(config: Config) {
  const app = newRouter();
  const tags = ['Webhooks'];
  const urlFor = (t: Trigger) => `${config.baseUrl}/api/webhooks/${t.slug}`;

  app.openapi(
    createRoute({
      method: 'post',
      path: '/api/flows/{id}/triggers',
      tags,
      summary: 'Create a webhook trigger for a flow (the secret is returned only now; at most STITCH_MAX_TRIGGERS_PER_FLOW per flow: 409 limit_reached)',
      request: { params: FlowIdParams, body: { content: { 'application/json': { schema: CreateTriggerBody } }, required: false } },
      responses: { 201: json(CreatedTriggerSchema, 'Created'), ...errors(400, 401, 404, 409) },
    }),
    async (c) => {
      const body = c.req.valid('json');
      const trigger = await withTransaction((client) => createTrigger(client, c.req.valid('param').id, body?.slug, { budgetUsd: body?.budgetUsd, tags: body?.tags, priority: body?.priority }));
      return c.json({ ...trigger, url: urlFor(trigger) }, 201);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/api/flows/{id}/triggers',
      tags,
      summary: "A flow's webhook triggers, oldest first, without secrets (paginated)",
      request: { params: FlowIdParams, query: PageQuery },
      responses: { 200: json(z.object({ triggers: z.array(TriggerSchema), nextCursor: NextCursor }), 'One page of triggers'), ...errors(400, 401, 404) },
    }),
    async (c) => {
      const { triggers, nextCursor } = await listTriggers(getPool(), c.req.valid('param').id, c.req.valid('query'));
      return c.json({ triggers: triggers.map((t) => ({ ...t, url: urlFor(t) })), nextCursor }, 200);
    },
  );

  const TriggerParams = FlowIdParams.extend({ triggerId: z.string().min(1).max(200).openapi({ param: { name: 'triggerId', in: 'path' } }) });

  app.openapi(
    createRoute({
      method: 'patch',
      path: '/api/flows/{id}/triggers/{triggerId}',
      tags,
      summary: 'Change the budget (null: the flow\'s default), tags or priority of the runs a webhook trigger starts',
      request: { params: TriggerParams, body: { content: { 'application/json': { schema: UpdateTriggerBody } }, required: true } },
      responses: { 200: json(TriggerSchema, 'Updated'), ...errors(400, 401, 404) },
    }),
    async (c) => {
      const { id, triggerId } = c.req.valid('param');
      const trigger = await updateTrigger(getPool(), id, triggerId, c.req.valid('json'));
      return c.json({ ...trigger, url: urlFor(trigger) }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'delete',
      path: '/api/flows/{id}/triggers/{triggerId}',
      tags,
      summary: 'Delete a webhook trigger',
      request: { params: TriggerParams },
      responses: { 200: json(OkSchema, 'Deleted'), ...errors(401, 404) },
    }),
    async (c) => {
      const { id, triggerId } = c.req.valid('param');
      await deleteTrigger(getPool(), id, triggerId);
      return c.json({ ok: true as const }, 200);
    },
  );

  app.openAPIRegistry.registerPath(
    createRoute({
      method: 'post',
      path: '/api/webhooks/{slug}',
      tags,
      summary: 'Start the trigger\'s flow; the JSON body is the run input',
      description: 'Authenticated by `X-Stitch-Signature: sha256=<hex HMAC-SHA256(secret, raw body)>`, not by the API key.',
      request: {
        params: WebhookParams,
        headers: z.object({
          'x-stitch-signature': z.string().openapi({ description: 'sha256=<hex>; X-Hub-Signature-256 is accepted too' }),
          'x-stitch-delivery': z.string().optional().openapi({ description: 'Optional delivery id: a repeat starts no second run' }),
        }),
        body: { content: { 'application/json': { schema: z.unknown() } } },
      },
      responses: {
        202: json(StartedRunSchema, 'Run started'),
        200: json(z.object({ runId: z.string().nullable(), duplicate: z.literal(true) }), 'A delivery seen before'),
        ...errors(400, 401, 404, 413),
        403: json(z.object({ error: z.object({ code: z.string(), message: z.string() }) }), 'The trigger has no secret'),
      },
    }),
  );
  // Raw body (the signature covers the exact bytes), so no zod body validator here.
  app.post('/api/webhooks/:slug', async (c) => {
    const slug = c.req.param('slug');
    const trigger = slug.length <= 64 ? await findTriggerBySlug(getPool(), slug) : undefined;
    if (!trigger) throw new NotFoundError(`Webhook ${slug}`);
    if (!trigger.secret) throw new StitchError('forbidden', 'This trigger has no secret configured, so it refuses every delivery.');
    const body = new Uint8Array(await c.req.arrayBuffer());
    const header = c.req.header('x-stitch-signature') ?? c.req.header('x-hub-signature-256');
    if (!signatureMatches(trigger.secret, body, header)) {
      throw new UnauthorizedError(header ? 'The webhook signature does not match.' : 'The webhook has no X-Stitch-Signature header.');
    }
    const input = parseInput(body);
    const deliveryId = deliveryKey(c.req.header('x-stitch-delivery') ?? c.req.header('x-github-delivery'));
    if (deliveryId) {
      const earlier = await claimDelivery(getPool(), trigger.id, deliveryId, config.limits.idempotencyHours);
      if (earlier) return c.json({ runId: earlier.runId, duplicate: true as const }, 200);
    }
    try {
      const run = await startRun(
        { flowId: trigger.flowId },
        {
          input,
          budgetUsd: trigger.budgetUsd ?? undefined,
          tags: renderRunTags(trigger.tags, input),
          priority: trigger.priority,
          trigger: { type: 'webhook', slug, triggerId: trigger.id, deliveryId },
        },
      );
      await recordDeliveryRun(getPool(), trigger.id, deliveryId, run.runId);
      return c.json({ runId: run.runId, versionId: run.versionId, status: run.status, statusUrl: `${config.baseUrl}/api/runs/${run.runId}` }, 202);
    } catch (error) {
      if (deliveryId) await releaseDelivery(getPool(), trigger.id, deliveryId);
      throw error;
    }
  });

  return app;
}

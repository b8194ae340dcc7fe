/**
 * `POST /api/remote-workers/register`: a remote process announces the worker types it serves, with
 * their definitions (the WorkerDefinition shape). Nodes then use those types like local ones, with
 * the same save-time type-check; the catalogue (GET /api/workers) lists them with their online count.
 * `DELETE /api/remote-workers/types/:type` removes one. Both within the limits of the registry.
 */
import { createRoute } from '@hono/zod-openapi';
import type { WorkerDefinition } from '@/types/stitch';
import type { Config } from '@/lib/config';
import { registerRemoteWorker, removeRemoteType } from '@/lib/engine/remote-workers';
import { ValidationError } from '@/lib/errors';
import { FieldSchemas, OutputFieldSchemas, WorkerConfigSchema } from '@/lib/workers/field-schema';
import { newRouter, z } from '../openapi';
import { OkSchema, errors, json } from '../schemas';

const TypeName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'letters, digits and ._- (at most 64)');
export const WorkerIdSchema = z.string().min(1).max(200).regex(/^[\x21-\x7e]+$/, 'printable ASCII without spaces');

const RemoteDefinitionSchema = z
  .object({
    id: TypeName.openapi({ description: 'The worker type (a node\'s data.workerType)' }),
    name: z.string().min(1).max(200).optional(),
    type: z.enum(['sync', 'async']).default('async'),
    description: z.string().max(4000).default(''),
    // The one field-schema schema (src/lib/workers/field-schema.ts): the canvas renders these as forms.
    input: FieldSchemas.default({}),
    output: OutputFieldSchemas.default({}),
    config: WorkerConfigSchema.default({}),
    retry: z
      .object({ attempts: z.number().int().min(1).max(100), backoffMs: z.number().int().min(0), maxBackoffMs: z.number().int().min(0) })
      .partial()
      .optional(),
    timeoutSeconds: z.number().positive().max(30 * 86_400).optional(),
    category: z.string().max(100).optional(),
    leaseSeconds: z.number().int().min(2).max(3600).optional().openapi({
      description: 'How long a claimed task stays with its worker without a heartbeat (default 30)',
    }),
  })
  .openapi('RemoteWorkerDefinition');

const RegisterBody = z
  .object({
    workerId: WorkerIdSchema.openapi({ description: 'This worker process\'s id (unique per process)' }),
    // Bounded by STITCH_MAX_REMOTE_TYPES_PER_WORKER (checked with the others at registration).
    workers: z.array(RemoteDefinitionSchema).min(1),
  })
  .openapi('RegisterRemoteWorker');

const TypeParams = z.object({ type: TypeName.openapi({ param: { name: 'type', in: 'path' }, description: 'The remote worker type' }) });

export function remoteWorkerRoutes(config: Config) {
  const app = newRouter();
  app.openapi(
    createRoute({
      method: 'post',
      path: '/api/remote-workers/register',
      tags: ['Remote workers'],
      summary: 'Announce the worker types a remote process serves (idempotent; re-announcing updates them)',
      description:
        'Bounded: types per worker (STITCH_MAX_REMOTE_TYPES_PER_WORKER) and a definition\'s size as JSON (STITCH_MAX_REMOTE_DEFINITION_BYTES) are 400; ' +
        'more types (STITCH_MAX_REMOTE_TYPES) or workers (STITCH_MAX_REMOTE_WORKERS) than the server keeps are 409 `limit_reached`.',
      request: { body: { content: { 'application/json': { schema: RegisterBody } }, required: true } },
      responses: { 200: json(z.object({ ok: z.literal(true), types: z.array(z.string()) }), 'Registered'), ...errors(400, 401, 409, 413) },
    }),
    async (c) => {
      const body = c.req.valid('json');
      const ids = body.workers.map((w) => w.id);
      const repeated = ids.find((id, i) => ids.indexOf(id) !== i);
      if (repeated) throw new ValidationError(`Worker type "${repeated}" is announced twice.`, [{ code: 'duplicate', field: 'workers', message: repeated }]);
      const definitions = body.workers.map(({ name, category, ...d }) => ({ ...d, name: name ?? d.id, category: category ?? 'Remote' }));
      await registerRemoteWorker(body.workerId, definitions as Array<WorkerDefinition & { leaseSeconds?: number }>, config.limits);
      return c.json({ ok: true as const, types: definitions.map((d) => d.id) }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'delete',
      path: '/api/remote-workers/types/{type}',
      tags: ['Remote workers'],
      summary: 'Remove a remote worker type from the catalogue (refused while tasks of it are ready or leased)',
      description: 'Flows that use the type fail to save afterwards, and their nodes fail when they execute, until a worker announces it again.',
      request: { params: TypeParams },
      responses: { 200: json(OkSchema, 'Removed'), ...errors(400, 401, 404, 409) },
    }),
    async (c) => {
      await removeRemoteType(c.req.valid('param').type);
      return c.json({ ok: true as const }, 200);
    },
  );
  return app;
}

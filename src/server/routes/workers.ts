/**
 * The worker catalogue: every definition, which the canvas turns into its palette and config forms.
 * Remote types (announced by remote workers) come after the local ones, with `remote` telling how
 * many workers serving them are online and when one was last seen.
 */
import { createRoute } from '@hono/zod-openapi';
import type { WorkerDefinition } from '@/types/stitch';
import type { Config } from '@/lib/config';
import { listRemoteTypes } from '@/lib/engine/remote-workers';
import { WORKER_DEFINITIONS } from '@/lib/workers/registry';
import { integrationStatuses } from '@/lib/workers/integration-keys';
import { newRouter, z } from '../openapi';
import { errors, json } from '../schemas';

const FieldSchema = z.object({
  type: z.string(),
  required: z.boolean().optional(),
  description: z.string(),
  default: z.unknown().optional(),
  aliases: z.array(z.string()).optional(),
});

const WorkerDefinitionSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    type: z.enum(['sync', 'async']),
    description: z.string(),
    input: z.record(z.string(), FieldSchema),
    output: z.record(z.string(), z.object({ type: z.string(), description: z.string() })),
    config: z.record(z.string(), z.unknown()),
    retry: z.object({ attempts: z.number(), backoffMs: z.number(), maxBackoffMs: z.number() }).partial().optional(),
    timeoutSeconds: z.number().optional(),
    category: z.string().optional(),
    integration: z
      .object({
        mode: z.enum(['real', 'mock', 'none']),
        keys: z.array(z.object({ name: z.string(), source: z.enum(['env', 'vault', 'none']) })),
      })
      .optional()
      .openapi({ description: 'Mock or real mode now, and where each API key comes from (env, vault, none)' }),
    remote: z
      .object({ online: z.number(), lastSeenAt: z.string().nullable(), leaseSeconds: z.number() })
      .optional()
      .openapi({ description: 'Present for remote types: workers online (heard from within 45 s) and last seen' }),
  })
  .openapi('WorkerDefinition');

/** A definition as the catalogue shows it: the original Stitch's optional parts filled in. */
function catalogueEntry(d: WorkerDefinition) {
  const described = <T extends { description?: string }>(fields: Record<string, T>) =>
    Object.fromEntries(Object.entries(fields).map(([k, f]) => [k, { ...f, description: f.description ?? '' }]));
  return { ...d, config: d.config ?? {}, input: described(d.input), output: described(d.output) };
}

export function workerRoutes(config: Config) {
  const app = newRouter();
  app.openapi(
    createRoute({
      method: 'get',
      path: '/api/workers',
      tags: ['Workers'],
      summary: 'Every worker definition (palette and config forms)',
      responses: { 200: json(z.object({ workers: z.array(WorkerDefinitionSchema) }), 'Definitions'), ...errors(401) },
    }),
    async (c) => {
      // Read per request: a key set in the vault switches its integration to real mode at once.
      const integrations = integrationStatuses();
      const local = Object.values(WORKER_DEFINITIONS).map((d) => ({ ...catalogueEntry(d), integration: integrations.get(d.id) }));
      const remote = (await listRemoteTypes(config.limits)).map(({ definition, status }) => ({ ...catalogueEntry(definition), remote: status }));
      return c.json({ workers: [...local, ...remote] }, 200);
    },
  );
  return app;
}

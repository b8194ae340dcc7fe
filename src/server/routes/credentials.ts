/**
 * The credentials vault over HTTP: `PUT /api/credentials/:name` stores a value (write-only: no
 * route ever returns one), `GET /api/credentials` lists names with where they are used, `DELETE`
 * removes one. Values are encrypted before they reach the database (src/lib/vault).
 */
import { createRoute } from '@hono/zod-openapi';
import { deleteCredential, listCredentials, setCredential } from '@/lib/vault/credentials';
import { newRouter, z } from '../openapi';
import { NextCursor, OkSchema, PageQuery, errors, json } from '../schemas';

const tags = ['Credentials'];

const NameParams = z.object({
  name: z
    .string()
    .min(1)
    .max(128)
    .openapi({ param: { name: 'name', in: 'path' }, description: 'The environment variable it stands for', example: 'ANTHROPIC_API_KEY' }),
});

export const CredentialSchema = z
  .object({
    name: z.string().openapi({ example: 'ANTHROPIC_API_KEY' }),
    updatedAt: z.string(),
    usedBy: z.array(z.string()).openapi({ description: 'Worker types that read this key', example: ['claude'] }),
  })
  .openapi('Credential');

// The example is a placeholder on purpose: a real value never appears in this document.
const PutCredentialBody = z.object({ value: z.string().openapi({ example: '<your key>' }) }).openapi('PutCredential');

export function credentialRoutes() {
  const app = newRouter();

  app.openapi(
    createRoute({
      method: 'put',
      path: '/api/credentials/{name}',
      tags,
      summary: 'Store or replace a secret (write-only; it applies to the next node execution; at most STITCH_MAX_CREDENTIALS names: 409 limit_reached)',
      request: { params: NameParams, body: { content: { 'application/json': { schema: PutCredentialBody } }, required: true } },
      responses: { 200: json(CredentialSchema, 'Replaced'), 201: json(CredentialSchema, 'Created'), ...errors(400, 401, 409, 413) },
    }),
    async (c) => {
      const { created, credential } = await setCredential(c.req.valid('param').name, c.req.valid('json').value);
      return c.json(credential, created ? 201 : 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/api/credentials',
      tags,
      summary: 'The stored credentials, in name order: names, when they changed and which workers use them — never a value (paginated)',
      request: { query: PageQuery },
      responses: { 200: json(z.object({ credentials: z.array(CredentialSchema), nextCursor: NextCursor }), 'One page of credentials'), ...errors(400, 401) },
    }),
    async (c) => c.json(await listCredentials(c.req.valid('query')), 200),
  );

  app.openapi(
    createRoute({
      method: 'delete',
      path: '/api/credentials/{name}',
      tags,
      summary: 'Delete a secret (workers reading it fall back to the environment, or mock mode)',
      request: { params: NameParams },
      responses: { 200: json(OkSchema, 'Deleted'), ...errors(400, 401, 404) },
    }),
    async (c) => {
      await deleteCredential(c.req.valid('param').name);
      return c.json({ ok: true as const }, 200);
    },
  );

  return app;
}

/**
 * Datasets: named lists of run inputs (with an optional expected output and notes per row) that
 * experiments run a flow over (docs/experiments.md). `POST /api/datasets` from JSON, JSONL or CSV
 * text, rows, or past runs' inputs; GET lists (paginated); PUT makes a new version; rows page by
 * page; DELETE.
 */
import { createRoute } from '@hono/zod-openapi';
import { createDataset, datasetRows, deleteDataset, getDataset, listDatasets, updateDataset } from '@/lib/datasets/store';
import { newRouter, z } from '../openapi';
import { OkSchema, errors, json } from '../schemas';

const tags = ['Datasets'];

const DatasetParams = z.object({
  id: z.string().min(1).max(200).openapi({ param: { name: 'id', in: 'path' }, description: 'Dataset id (uuid) or name' }),
});
const Name = z.string().trim().min(1).max(200).regex(/^[^\p{Cc}]+$/u, 'no control characters');
const Format = z.enum(['json', 'jsonl', 'csv']).openapi({
  description: 'How `content` is written: a JSON array, one JSON value a line, or CSV with a header of input fields (`a.b` nests; `expected`, `expected.*` and `notes` columns fill those)',
});
const Content = {
  format: Format.optional(),
  content: z.string().max(50_000_000).optional().openapi({ description: 'The file\'s text (the body limit bounds it)' }),
  rows: z.array(z.unknown()).max(100_000).optional().openapi({ description: 'Rows as values: `{input, expected?, notes?}`, or the input itself' }),
  fromRuns: z.array(z.string().max(200)).max(10_000).optional().openapi({ description: 'Run ids: their inputs become the rows, in this order' }),
};
const CreateDatasetBody = z.object({ name: Name, ...Content }).strict().openapi('CreateDataset');
const UpdateDatasetBody = z.object({ name: Name.optional(), ...Content }).strict().openapi('UpdateDataset');

export const DatasetSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    version: z.number().openapi({ description: 'The current version; each change of the rows is a new one' }),
    rowCount: z.number(),
    source: z.record(z.string(), z.unknown()),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .openapi('Dataset');

const ListQuery = z.object({
  name: z.string().max(200).optional().openapi({ param: { name: 'name', in: 'query' } }),
  limit: z.coerce.number().int().min(1).max(200).default(50).openapi({ param: { name: 'limit', in: 'query' } }),
  cursor: z.string().max(200).optional().openapi({ param: { name: 'cursor', in: 'query' }, description: '`nextCursor` of the previous page' }),
});
const RowsQuery = z.object({
  version: z.coerce.number().int().min(1).max(2_147_483_647).optional().openapi({ param: { name: 'version', in: 'query' }, description: 'Default: the current version' }),
  limit: z.coerce.number().int().min(1).max(500).default(100).openapi({ param: { name: 'limit', in: 'query' } }),
  cursor: z.string().max(20).optional().openapi({ param: { name: 'cursor', in: 'query' }, description: '`nextCursor` of the previous page' }),
});
const RowSchema = z.object({ idx: z.number(), input: z.record(z.string(), z.unknown()), expected: z.unknown(), notes: z.string().nullable() });

export function datasetRoutes() {
  const app = newRouter();

  app.openapi(
    createRoute({
      method: 'post',
      path: '/api/datasets',
      tags,
      summary: 'Create a dataset from JSON, JSONL or CSV text, rows, or past runs\' inputs (a wrong file is refused with the line that is wrong)',
      request: { body: { content: { 'application/json': { schema: CreateDatasetBody } }, required: true } },
      responses: { 201: json(DatasetSchema, 'Created'), ...errors(400, 401, 404, 409, 413) },
    }),
    async (c) => {
      const { name, ...content } = c.req.valid('json');
      return c.json(await createDataset(name, content), 201);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/api/datasets',
      tags,
      summary: 'List datasets, newest first (paginated)',
      request: { query: ListQuery },
      responses: { 200: json(z.object({ datasets: z.array(DatasetSchema), nextCursor: z.string().nullable() }), 'One page'), ...errors(400, 401) },
    }),
    async (c) => c.json(await listDatasets(c.req.valid('query')), 200),
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/api/datasets/{id}',
      tags,
      summary: 'A dataset (by id or name)',
      request: { params: DatasetParams },
      responses: { 200: json(DatasetSchema, 'The dataset'), ...errors(401, 404) },
    }),
    async (c) => c.json(await getDataset(c.req.valid('param').id), 200),
  );

  app.openapi(
    createRoute({
      method: 'put',
      path: '/api/datasets/{id}',
      tags,
      summary: 'Replace the rows: a new version (experiments keep the version they ran)',
      request: { params: DatasetParams, body: { content: { 'application/json': { schema: UpdateDatasetBody } }, required: true } },
      responses: { 200: json(DatasetSchema, 'The new version'), ...errors(400, 401, 404, 409, 413) },
    }),
    async (c) => c.json(await updateDataset(c.req.valid('param').id, c.req.valid('json')), 200),
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/api/datasets/{id}/rows',
      tags,
      summary: "A version's rows in order (paginated)",
      request: { params: DatasetParams, query: RowsQuery },
      responses: { 200: json(z.object({ version: z.number(), rows: z.array(RowSchema), nextCursor: z.string().nullable() }), 'One page'), ...errors(400, 401, 404) },
    }),
    async (c) => c.json(await datasetRows(c.req.valid('param').id, c.req.valid('query')), 200),
  );

  app.openapi(
    createRoute({
      method: 'delete',
      path: '/api/datasets/{id}',
      tags,
      summary: 'Delete a dataset and its versions (409 while an experiment uses it)',
      request: { params: DatasetParams },
      responses: { 200: json(OkSchema, 'Deleted'), ...errors(401, 404, 409) },
    }),
    async (c) => {
      await deleteDataset(c.req.valid('param').id);
      return c.json({ ok: true as const }, 200);
    },
  );

  return app;
}

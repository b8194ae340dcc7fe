/**
 * Datasets over HTTP on a real database: made from each format, from rows and from past runs; a
 * wrong file refused with its line and nothing stored; versions on change (older ones pruned past
 * the bound); the bounds on datasets and rows; pagination of datasets and of rows.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, graph } from '../helpers';
import { startTestServer, type TestServer } from './http';

let t: TestServer;

beforeAll(async () => {
  t = await startTestServer({ env: { STITCH_MAX_DATASETS: '4', STITCH_MAX_DATASET_ROWS: '5', STITCH_MAX_DATASET_VERSIONS: '2' } });
}, 60_000);
afterAll(() => t?.close());

const rowsOf = async (id: string, query = '') => (await t.api('GET', `/api/datasets/${id}/rows${query}`)).body;

describe('datasets API', () => {
  it('creates datasets from CSV, JSONL and rows; lists them newest first, page by page', async () => {
    const csv = await t.api('POST', '/api/datasets', { name: 'topics', format: 'csv', content: 'topic,style.tone,expected\notters,dry,yes\nrain,warm,\n' });
    expect(csv.status).toBe(201);
    expect(csv.body).toMatchObject({ name: 'topics', version: 1, rowCount: 2, source: { format: 'csv' } });
    expect((await rowsOf(csv.body.id)).rows).toEqual([
      { idx: 0, input: { topic: 'otters', style: { tone: 'dry' } }, expected: 'yes', notes: null },
      { idx: 1, input: { topic: 'rain', style: { tone: 'warm' } }, expected: null, notes: null },
    ]);
    const jsonl = await t.api('POST', '/api/datasets', { name: 'lines', format: 'jsonl', content: '{"a":1}\n{"input":{"a":2},"notes":"n"}\n' });
    expect(jsonl.body).toMatchObject({ rowCount: 2 });
    const rows = await t.api('POST', '/api/datasets', { name: 'direct', rows: [{ a: 1 }, { a: 2 }, { a: 3 }] });
    expect(rows.status).toBe(201);

    const first = await t.api('GET', '/api/datasets?limit=2');
    expect(first.body.datasets.map((d: any) => d.name)).toEqual(['direct', 'lines']);
    const second = await t.api('GET', `/api/datasets?limit=2&cursor=${first.body.nextCursor}`);
    expect(second.body).toMatchObject({ datasets: [{ name: 'topics' }], nextCursor: null });
    expect((await t.api('GET', '/api/datasets?name=lines')).body.datasets).toHaveLength(1);
    expect((await t.api('GET', '/api/datasets/lines')).body.id).toBe(jsonl.body.id); // by name too

    // Rows page by page.
    const page = await rowsOf(rows.body.id, '?limit=2');
    expect(page.rows.map((r: any) => r.input.a)).toEqual([1, 2]);
    expect((await rowsOf(rows.body.id, `?limit=2&cursor=${page.nextCursor}`)).rows.map((r: any) => r.input.a)).toEqual([3]);
  });

  it('refuses a wrong file with the line that is wrong, and stores nothing', async () => {
    const before = (await t.api('GET', '/api/datasets')).body.datasets.length;
    const bad = await t.api('POST', '/api/datasets', { name: 'bad', format: 'jsonl', content: '{"a":1}\n{"a":\n' });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatchObject({ code: 'validation_failed', message: 'The dataset is not valid: line 2: not valid JSON' });
    expect(bad.body.error.details[0]).toMatchObject({ line: 2 });
    const csv = await t.api('POST', '/api/datasets', { name: 'bad', format: 'csv', content: 'a,b\n1\n' });
    expect(csv.body.error.message).toBe('The dataset is not valid: line 2: 1 fields, but the header has 2');
    expect((await t.api('POST', '/api/datasets', { name: 'bad', content: '[]', rows: [] })).status).toBe(400);
    expect((await t.api('POST', '/api/datasets', { name: 'bad', rows: [] })).status).toBe(400);
    expect((await t.api('GET', '/api/datasets')).body.datasets.length).toBe(before);
  });

  it('bounds rows per version and datasets stored; a taken name is a 409 that names the dataset', async () => {
    const tooMany = await t.api('POST', '/api/datasets', { name: 'big', rows: [1, 2, 3, 4, 5, 6].map((a) => ({ a })) });
    expect(tooMany.status).toBe(400);
    expect(tooMany.body.error.message).toMatch(/at most 5 rows \(STITCH_MAX_DATASET_ROWS\)/);
    const taken = await t.api('POST', '/api/datasets', { name: 'topics', rows: [{ a: 1 }] });
    expect(taken.status).toBe(409);
    expect(taken.body.error.details.id).toBe((await t.api('GET', '/api/datasets/topics')).body.id);
    expect((await t.api('POST', '/api/datasets', { name: 'fourth', rows: [{ a: 1 }] })).status).toBe(201);
    const full = await t.api('POST', '/api/datasets', { name: 'fifth', rows: [{ a: 1 }] });
    expect(full.status).toBe(409);
    expect(full.body.error).toMatchObject({ code: 'limit_reached', details: { limit: 4, variable: 'STITCH_MAX_DATASETS' } });
    expect((await t.api('DELETE', '/api/datasets/fourth')).status).toBe(200);
    expect((await t.api('GET', '/api/datasets/fourth')).status).toBe(404);
  });

  it('a change is a new version; versions past the bound are removed', async () => {
    const id = (await t.api('GET', '/api/datasets/direct')).body.id;
    const v2 = await t.api('PUT', `/api/datasets/${id}`, { rows: [{ a: 'two' }] });
    expect(v2.body).toMatchObject({ version: 2, rowCount: 1, name: 'direct' });
    expect((await rowsOf(id, '?version=1')).rows).toHaveLength(3);
    const v3 = await t.api('PUT', `/api/datasets/${id}`, { name: 'renamed', format: 'jsonl', content: '{"a":"three"}' });
    expect(v3.body).toMatchObject({ version: 3, name: 'renamed' });
    expect((await t.api('GET', `/api/datasets/${id}/rows?version=1`)).status).toBe(404); // kept: the last 2
    expect((await rowsOf(id, '?version=2')).rows[0].input).toEqual({ a: 'two' });
    expect((await rowsOf(id)).rows[0].input).toEqual({ a: 'three' });
    expect((await t.api('PUT', `/api/datasets/${id}`, { rows: [{ a: 1 }], name: 'topics' })).status).toBe(409);
  });

  it('makes a dataset from past runs\' inputs, in the order given', async () => {
    const flow = await t.api('POST', '/api/flows', { name: 'echo', graph: graph(['start:start', 'end:end'], [['start', 'end']]) });
    const a = await t.api('POST', `/api/flows/${flow.body.id}/run`, { input: { topic: 'a' } });
    const b = await t.api('POST', `/api/flows/${flow.body.id}/run`, { input: { topic: 'b' } });
    await eventually(async () => (await t.api('GET', `/api/runs/${b.body.runId}`)).body.status === 'completed');
    await t.api('DELETE', '/api/datasets/lines');
    const made = await t.api('POST', '/api/datasets', { name: 'from-runs', fromRuns: [b.body.runId, a.body.runId] });
    expect(made.body).toMatchObject({ rowCount: 2, source: { fromRuns: 2 } });
    expect((await rowsOf(made.body.id)).rows.map((r: any) => r.input.topic)).toEqual(['b', 'a']);
    expect((await t.api('POST', '/api/datasets', { name: 'x', fromRuns: ['00000000-0000-4000-8000-000000000000'] })).status).toBe(404);
    expect((await t.api('POST', '/api/datasets', { name: 'x', fromRuns: ['nope'] })).status).toBe(400);
  });
});

/**
 * Issue 21, item 13: one schema for field schemas wherever they enter. A bad one (a `description`
 * that is an object blanked the canvas) is refused at save or registration with a 400 naming the
 * field, and nothing is stored; local worker definitions are checked at start-up.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { VisualGraph } from '@/types/stitch';
import { getPool } from '@/lib/db/pool';
import { checkRegistry, WORKER_DEFINITIONS } from '@/lib/workers/registry';
import { MAX_DESCRIPTION, MAX_SCHEMA_FIELDS } from '@/lib/workers/field-schema';
import { startTestServer, type TestServer } from './http';

let t: TestServer;
beforeAll(async () => {
  t = await startTestServer();
});
afterAll(() => t?.close());

const node = (id: string, type: string, data: Record<string, unknown> = {}) => ({ id, type, position: { x: 0, y: 0 }, data });
const flow = (...nodes: VisualGraph['nodes']): VisualGraph => ({
  nodes,
  edges: nodes.slice(1).map((n, i) => ({ id: `e${i}`, source: nodes[i].id, target: n.id })),
});
const ok = { type: 'string', required: true, description: 'What the film is about' };
const count = async (table: string) => (await getPool().query(`SELECT count(*)::int AS n FROM ${table}`)).rows[0].n as number;

/** Save must answer 400 with an `invalid_field_schema` issue at `nodeId`/`field`, and store nothing. */
async function refused(graph: VisualGraph, nodeId: string, field: string) {
  const [flows, versions] = [await count('stitch_flows'), await count('stitch_flow_versions')];
  const res = await t.api('POST', '/api/flows', { name: 'bad schema', graph });
  expect(res.status, JSON.stringify(res.body)).toBe(400);
  expect(res.body.error.code).toBe('validation_failed');
  expect(res.body.error.details).toContainEqual(expect.objectContaining({ code: 'invalid_field_schema', nodeId, field }));
  expect(res.body.error.message).toContain(field);
  expect([await count('stitch_flows'), await count('stitch_flow_versions')]).toEqual([flows, versions]);
  return res.body.error.details as Array<{ field: string; message: string }>;
}

describe('flows: field schemas are checked at save', () => {
  it('refuses a description that is not text, wherever a node carries a schema', async () => {
    const bad = { type: 'string', description: { html: '<b>x</b>' } };
    await refused(flow(node('start', 'start', { inputSchema: { topic: bad } }), node('end', 'end')), 'start', 'inputSchema.topic.description');
    await refused(flow(node('start', 'start'), node('gate', 'ux', { config: { prompt: 'OK?', inputSchema: { note: bad } } })), 'gate', 'config.inputSchema.note.description');
    await refused(flow(node('start', 'start'), node('gate', 'ux', { inputSchema: { note: bad } })), 'gate', 'inputSchema.note.description');
    await refused(
      flow(node('start', 'start'), node('split', 'splitter', { config: { arrayPath: 'items', itemSchema: { title: bad } } }), node('collect', 'collector')),
      'split',
      'config.itemSchema.title.description',
    );
  });

  it('refuses every other malformed part, each naming its field', async () => {
    const start = (schema: unknown) => flow(node('start', 'start', { inputSchema: schema }), node('end', 'end'));
    await refused(start({ topic: { ...ok, type: 'text' } }), 'start', 'inputSchema.topic.type');
    await refused(start({ topic: { description: 'no type' } }), 'start', 'inputSchema.topic.type');
    await refused(start({ topic: { ...ok, required: 'yes' } }), 'start', 'inputSchema.topic.required');
    await refused(start({ topic: { ...ok, aliases: 'subject' } }), 'start', 'inputSchema.topic.aliases');
    await refused(start({ topic: { ...ok, aliases: [{}] } }), 'start', 'inputSchema.topic.aliases.0');
    await refused(start({ topic: { ...ok, default: 42 } }), 'start', 'inputSchema.topic.default');
    await refused(start({ topic: { ...ok, description: 'x'.repeat(MAX_DESCRIPTION + 1) } }), 'start', 'inputSchema.topic.description');
    await refused(start({ topic: 'string' }), 'start', 'inputSchema.topic');
    await refused(start(['topic']), 'start', 'inputSchema');
    await refused(start({ '': ok }), 'start', 'inputSchema.');
    const many = Object.fromEntries(Array.from({ length: MAX_SCHEMA_FIELDS + 1 }, (_, i) => [`f${i}`, ok]));
    await refused(start(many), 'start', 'inputSchema');
  });

  it('refuses a bad schema in a new version too, and keeps the current one', async () => {
    const good = flow(node('start', 'start', { inputSchema: { topic: ok } }), node('end', 'end'));
    const created = await t.api('POST', '/api/flows', { name: 'versioned', graph: good });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const bad = flow(node('start', 'start', { inputSchema: { topic: { ...ok, description: ['a', 'list'] } } }), node('end', 'end'));
    const res = await t.api('PUT', `/api/flows/${created.body.id}`, { graph: bad });
    expect(res.status).toBe(400);
    expect(res.body.error.details).toContainEqual(expect.objectContaining({ code: 'invalid_field_schema', field: 'inputSchema.topic.description' }));
    const current = await t.api('GET', `/api/flows/${created.body.id}`);
    expect(current.body.version).toBe(1);
    expect(current.body.graph.nodes[0].data.inputSchema.topic.description).toBe(ok.description);
  });

  it('accepts well-formed schemas, with defaults of their type and keys it does not know', async () => {
    const schema = {
      topic: ok,
      scenes: { type: 'number', default: 3, description: 'How many' },
      tags: { type: 'array', default: [], aliases: ['labels'] },
      note: { type: 'string', default: null },
      extra: { type: 'object', required: false, placeholder: 'ignored' },
    };
    const res = await t.api('POST', '/api/flows', {
      name: 'fine',
      graph: flow(node('start', 'start', { inputSchema: schema }), node('gate', 'ux', { config: { inputSchema: { approved: { type: 'boolean' } } } }), node('end', 'end')),
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
  });
});

describe('remote workers: definitions pass the same schema at registration', () => {
  const definition = (extra: Record<string, unknown>) => ({
    id: 'schema-remote',
    description: 'a remote type',
    input: { text: { type: 'string', required: true, description: 'text' } },
    output: { text: { type: 'string', description: 'text' } },
    config: { suffix: '' },
    ...extra,
  });
  const register = (extra: Record<string, unknown>) => t.api('POST', '/api/remote-workers/register', { workerId: 'w-schema', workers: [definition(extra)] });

  it('refuses a config form field, an input or an output whose description is not text, naming the field', async () => {
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ config: { mode: { type: 'string', description: { html: '<b>x</b>' } } } }, 'workers.0.config.mode.description'],
      [{ config: { mode: { type: 'strng', description: 'the mode' } } }, 'workers.0.config.mode.type'],
      [{ input: { text: { type: 'string', description: { html: 'x' } } } }, 'workers.0.input.text.description'],
      [{ output: { text: { type: 'string', description: 42 } } }, 'workers.0.output.text.description'],
      [{ input: { text: { type: 'string', aliases: 'words' } } }, 'workers.0.input.text.aliases'],
    ];
    for (const [extra, field] of cases) {
      const res = await register(extra);
      expect(res.status, field).toBe(400);
      expect(res.body.error.details, field).toContainEqual(expect.objectContaining({ field }));
    }
    expect(await count('stitch_remote_types')).toBe(0);
  });

  it('accepts config default values, and config form fields that are valid schemas', async () => {
    const res = await register({
      config: { suffix: '!', voice: { type: 'neural' }, limits: { max: 3 }, mode: { type: 'string', description: 'fast or good', default: 'fast' } },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    const { body } = await t.api('GET', '/api/workers');
    const entry = body.workers.find((w: { id: string }) => w.id === 'schema-remote');
    expect(entry.config.mode).toEqual({ type: 'string', description: 'fast or good', default: 'fast' });
  });
});

describe('local worker definitions are checked at start-up', () => {
  it('names a bad field schema in WORKER_DEFINITIONS', () => {
    expect(checkRegistry()).toEqual([]);
    WORKER_DEFINITIONS['bad-schema'] = {
      id: 'bad-schema',
      name: 'Bad',
      type: 'sync',
      description: 'a definition with a bad form field',
      input: { text: { type: 'string', description: { html: 'x' } as unknown as string } },
      output: {},
      config: { mode: { type: 'string', description: 7 } },
    };
    try {
      const problems = checkRegistry().join('\n');
      expect(problems).toContain('"bad-schema" has a bad field schema at input.text.description');
      expect(problems).toContain('"bad-schema" has a bad field schema at config.mode.description');
    } finally {
      delete WORKER_DEFINITIONS['bad-schema'];
    }
  });
});

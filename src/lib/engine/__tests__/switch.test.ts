/**
 * Switch routing on the real database: the case taken runs, branches not taken are skipped
 * transitively, a join runs on what arrived, a node whose every upstream was skipped is skipped.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { VisualGraph } from '@/types/stitch';
import { createFlow } from '@/lib/engine/flows';
import { getRunEvents } from '@/lib/db/runs';
import { startRun } from '@/lib/engine/start-run';
import { evaluateExpression, parseExpression } from '@/lib/engine/expression';
import { graph, registerTestWorker, syncWorker, waitForRun } from '../../../../test/helpers';
import { startTestStitch, type TestStitch } from '../../../../test/db';

let stitch: TestStitch;

beforeAll(async () => {
  registerTestWorker('echo', syncWorker((input, config, { nodeId }) => ({ ...input, [`seen_${nodeId}`]: true, ...(config.add ?? {}) })));
  stitch = await startTestStitch();
});
afterAll(() => stitch?.destroy());

async function run(g: VisualGraph, input: unknown) {
  const flow = await createFlow('switch', g);
  const { runId } = await startRun(flow.id, { input });
  return waitForRun(runId);
}

const cases = [
  { name: 'big', when: 'size >= 10 and not draft' },
  { name: 'small', when: 'size < 10' },
];

/** route → big → bigger ┐
 *        → small ───────┼→ join → end
 *        → other (default)┘            */
const routed = () =>
  graph(
    [
      { id: 'route', type: 'switch', config: { cases } },
      'big',
      'bigger',
      'small',
      'other',
      'join',
      { id: 'end', type: 'end' },
    ],
    [
      { source: 'route', target: 'big', sourceHandle: 'big' },
      ['big', 'bigger'],
      { source: 'route', target: 'small', data: { case: 'small' } },
      { source: 'route', target: 'other', sourceHandle: 'default' },
      ['bigger', 'join'],
      ['small', 'join'],
      ['other', 'join'],
      ['join', 'end'],
    ],
  );

describe('switch', () => {
  it('runs the case taken, skips the others transitively, and the join runs on what arrived', async () => {
    const r = await run(routed(), { size: 12, draft: false });
    expect(r.status).toBe('completed');
    expect(r.nodes.route).toMatchObject({ status: 'completed', output: { size: 12, draft: false }, metadata: { case: 'big' } });
    expect(r.nodes.big.status).toBe('completed');
    expect(r.nodes.bigger.status).toBe('completed');
    expect(r.nodes.small.status).toBe('skipped');
    expect(r.nodes.other.status).toBe('skipped');
    expect(r.nodes.join.status).toBe('completed');
    expect(r.nodes.join.input).toEqual({ size: 12, draft: false, seen_big: true, seen_bigger: true });
    expect(r.output).toEqual({ size: 12, draft: false, seen_big: true, seen_bigger: true, seen_join: true });
    const events = await getRunEvents(r.id);
    expect(events.find((e) => e.instanceId === 'route' && e.type === 'node:completed')?.payload.case).toBe('big');
    expect(events.filter((e) => e.type === 'node:skipped').map((e) => e.instanceId).sort()).toEqual(['other', 'small']);
  });

  it('falls back to the default case when no condition holds', async () => {
    const r = await run(routed(), { size: 'huge' });
    expect(r.nodes.route.metadata).toMatchObject({ case: 'default' });
    expect(r.nodes.other.status).toBe('completed');
    expect(r.nodes.big.status).toBe('skipped');
    expect(r.nodes.bigger.status).toBe('skipped');
    expect(r.nodes.join.input).toEqual({ size: 'huge', seen_other: true });
  });

  it('skips a node whose every upstream was skipped, and everything after it', async () => {
    // No default edge: with no case matching, every branch is skipped, and so is the join.
    const g = graph(
      [{ id: 'route', type: 'switch', config: { cases } }, 'big', 'small', 'join', 'after', 'independent'],
      [
        { source: 'route', target: 'big', sourceHandle: 'big' },
        { source: 'route', target: 'small', sourceHandle: 'small' },
        ['big', 'join'],
        ['small', 'join'],
        ['join', 'after'],
      ],
    );
    const r = await run(g, { nothing: true });
    expect(r.status).toBe('completed');
    for (const id of ['big', 'small', 'join', 'after']) expect(r.nodes[id].status).toBe('skipped');
    expect(r.nodes.independent.status).toBe('completed');
    // Only settled-with-data output nodes make the run's output.
    expect(r.output).toEqual({ nothing: true, seen_independent: true });
  });

  it('routes items inside a splitter; the collector gathers the items whose branch ran and null for the rest', async () => {
    const g = graph(
      [
        { id: 'split', type: 'splitter' },
        { id: 'route', type: 'switch', config: { cases: [{ name: 'even', when: 'n in [0, 2, 4]' }] } },
        { id: 'even', workerType: 'echo' },
        { id: 'c', type: 'collector', config: { field: 'n' } },
      ],
      [['split', 'route'], { source: 'route', target: 'even', sourceHandle: 'even' }, ['even', 'c']],
    );
    const r = await run(g, [{ n: 0 }, { n: 1 }, { n: 2 }]);
    expect(r.status).toBe('completed');
    expect(r.nodes['even[1]'].status).toBe('skipped');
    expect(r.nodes.c.output).toEqual([0, null, 2]);
  });

  it('skips a splitter on a branch not taken, and its whole scope with its collector', async () => {
    const g = graph(
      [
        { id: 'route', type: 'switch', config: { cases: [{ name: 'split', when: 'exists items' }] } },
        { id: 'split', type: 'splitter', config: { arrayPath: 'items' } },
        'inner',
        { id: 'c', type: 'collector' },
        'after',
        'other',
        'join',
      ],
      [
        { source: 'route', target: 'split', sourceHandle: 'split' },
        ['split', 'inner'],
        ['inner', 'c'],
        ['c', 'after'],
        { source: 'route', target: 'other', sourceHandle: 'default' },
        ['after', 'join'],
        ['other', 'join'],
      ],
    );
    const r = await run(g, { noItems: true });
    expect(r.status).toBe('completed');
    expect(['split', 'c', 'after'].map((id) => r.nodes[id].status)).toEqual(['skipped', 'skipped', 'skipped']);
    expect(r.nodes.join.input).toEqual({ noItems: true, seen_other: true });
  });
});

describe('condition language', () => {
  const holds = (expr: string, input: unknown) => evaluateExpression(parseExpression(expr), input);

  it('compares, tests existence and combines with and/or/not', () => {
    const input = { status: 'ok', score: 0.7, tags: ['a', 'b'], nested: { n: 3 }, empty: null, name: "O'Brien" };
    expect(holds('status == "ok"', input)).toBe(true);
    expect(holds("status != 'ok'", input)).toBe(false);
    expect(holds('score >= 0.5 && score < 1', input)).toBe(true);
    expect(holds('nested.n > 2 and (status == "bad" or tags contains "b")', input)).toBe(true);
    expect(holds('not exists empty', input)).toBe(true);
    expect(holds('missing exists', input)).toBe(false);
    expect(holds('"a" in tags', input)).toBe(true);
    expect(holds('status in ["ok", "fine"]', input)).toBe(true);
    expect(holds('name == "O\'Brien"', input)).toBe(true);
    expect(holds('score > "0.5"', input)).toBe(false); // no coercion between numbers and strings
    expect(holds('missing.deep == null', input)).toBe(false); // undefined is not null
    expect(holds('tags', input)).toBe(true);
    expect(holds('!tags', input)).toBe(false);
  });

  it('refuses anything but its grammar, naming the position', () => {
    expect(() => parseExpression('status ==')).toThrow(/Expected a value but found the end of the expression at position 10/);
    expect(() => parseExpression('process.exit()')).toThrow(/Unexpected "\("/);
    expect(() => parseExpression('a = 1')).toThrow(/Unexpected character "="/);
    expect(() => parseExpression('')).toThrow(/Empty expression/);
  });
});

/**
 * Property: over random DAGs with a switch and a splitter scope, a re-run executes exactly the
 * worker instances a reference model says must run — those reached whose node settings or input
 * differ from every completed instance of the same node in the source run, plus, with `fromNode`,
 * every reached instance of that node and of everything downstream of it. With nothing changed it
 * executes nothing and reproduces the output. The model is a small interpreter of the same graph,
 * written independently of the engine (no fingerprints, no SQL).
 */
import fc from 'fast-check';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { VisualGraph } from '@/types/stitch';
import { createFlow, updateFlow } from '@/lib/engine/flows';
import { getRunWithNodes } from '@/lib/db/runs';
import { startRun } from '@/lib/engine/start-run';
import { rerun } from '../start-rerun';
import { registerTestWorker, syncWorker, waitForRun } from '../../../../test/helpers';
import { startTestStitch, type TestStitch } from '../../../../test/db';

let stitch: TestStitch;
const calls: string[] = [];

beforeAll(async () => {
  registerTestWorker(
    'model',
    syncWorker((input, config, { runId, nodeId }) => {
      calls.push(`${runId}/${nodeId}`);
      return { ...input, [nodeId.replace(/\[.*$/, '')]: config.v };
    }),
  );
  stitch = await startTestStitch();
});
afterAll(() => stitch?.destroy());

interface Spec {
  n: number;
  edges: Array<[number, number]>;
  values: Record<string, number>;
  items: Array<{ k: number }>;
}
type Obj = Record<string, unknown>;

const FIXED = ['A', 'B', 'J', 'P', 'Q', 'Z'];
const workersOf = (n: number) => [...Array.from({ length: n }, (_, i) => `W${i}`), ...FIXED];

function buildGraph(spec: Spec): VisualGraph {
  const worker = (id: string) => ({ id, type: 'worker', position: { x: 0, y: 0 }, data: { workerType: 'model', config: { v: spec.values[id] } } });
  const last = `W${spec.n - 1}`;
  const edges: VisualGraph['edges'] = [
    ...spec.edges.map(([a, b]) => ({ source: `W${a}`, target: `W${b}` })),
    { source: 'W0', target: 'sw' },
    { source: 'sw', target: 'A', sourceHandle: 'hi' },
    { source: 'sw', target: 'B', data: { case: 'default' } },
    { source: 'A', target: 'J' },
    { source: 'B', target: 'J' },
    { source: last, target: 'split' },
    { source: 'split', target: 'P' },
    { source: 'P', target: 'Q' },
    { source: 'Q', target: 'collect' },
    { source: 'collect', target: 'Z' },
  ].map((e, i) => ({ id: `e${i}`, ...e }));
  return {
    nodes: [
      ...workersOf(spec.n).map(worker),
      { id: 'sw', type: 'switch', position: { x: 0, y: 0 }, data: { config: { cases: [{ name: 'hi', when: 'W0 > 4' }] } } },
      { id: 'split', type: 'splitter', position: { x: 0, y: 0 }, data: { config: { arrayPath: 'items' } } },
      { id: 'collect', type: 'collector', position: { x: 0, y: 0 }, data: {} },
    ],
    edges,
  };
}

/** The reference model: every worker instance reached, with its input, for these settings. */
function simulate(spec: Spec, runInput: Obj): Map<string, { node: string; v: number; input: unknown }> {
  const reached = new Map<string, { node: string; v: number; input: unknown }>();
  const out: Record<string, Obj> = {};
  const work = (instance: string, node: string, input: Obj) => {
    reached.set(instance, { node, v: spec.values[node], input });
    return { ...input, [node]: spec.values[node] };
  };
  for (let i = 0; i < spec.n; i++) {
    const ups = spec.edges.filter(([, b]) => b === i).map(([a]) => out[`W${a}`]);
    out[`W${i}`] = work(`W${i}`, `W${i}`, ups.length ? Object.assign({}, ...ups) : runInput);
  }
  const branch = (out.W0.W0 as number) > 4 ? 'A' : 'B';
  const joined = work(branch, branch, out.W0);
  work('J', 'J', joined);
  const items = out[`W${spec.n - 1}`].items as Obj[];
  const results = items.map((item, i) => work(`Q[${i}]`, 'Q', work(`P[${i}]`, 'P', item)));
  work('Z', 'Z', { collect: results });
  return reached;
}

function downstream(g: VisualGraph, from: string): Set<string> {
  const seen = new Set([from]);
  const queue = [from];
  while (queue.length) {
    const id = queue.shift()!;
    for (const e of g.edges) if (e.source === id && !seen.has(e.target)) (seen.add(e.target), queue.push(e.target));
  }
  return seen;
}

const specArbitrary = fc.integer({ min: 1, max: 4 }).chain((n) =>
  fc.record({
    n: fc.constant(n),
    // Pairs i < j (acyclic); with one worker there are none (a filter would never find one).
    edges: fc.subarray(Array.from({ length: n }, (_, a) => Array.from({ length: n - a - 1 }, (_, k) => [a, a + k + 1] as [number, number])).flat()),
    values: fc.tuple(...workersOf(n).map(() => fc.integer({ min: 0, max: 9 }))).map((vs) => Object.fromEntries(workersOf(n).map((id, i) => [id, vs[i]]))),
    items: fc.array(fc.record({ k: fc.integer({ min: 0, max: 2 }) }), { maxLength: 3 }),
    change: fc.oneof(
      fc.constant({ kind: 'none' as const }),
      fc.record({ kind: fc.constant('config' as const), node: fc.constantFrom(...workersOf(n)), v: fc.integer({ min: 0, max: 9 }) }),
      fc.record({ kind: fc.constant('from' as const), node: fc.constantFrom(...workersOf(n), 'sw', 'split', 'collect') }),
    ),
  }),
);

it('re-runs execute exactly what the model says: changed settings, changed inputs, forced nodes', async () => {
  await fc.assert(
    fc.asyncProperty(specArbitrary, async ({ change, ...spec }) => {
      const runInput = { items: spec.items };
      const flow = await createFlow(`model-${Math.random()}`, buildGraph(spec));
      const { runId: sourceId } = await startRun(flow.id, { input: runInput });
      const source = await waitForRun(sourceId);
      expect(source.status).toBe('completed');

      const next: Spec = change.kind === 'config' ? { ...spec, values: { ...spec.values, [change.node]: change.v } } : spec;
      if (change.kind === 'config') await updateFlow(flow.id, buildGraph(next));
      const started = await rerun(sourceId, change.kind === 'from' ? { fromNode: change.node } : {});
      const again = await waitForRun(started.runId);
      expect(again.status).toBe('completed');

      const before = [...simulate(spec, runInput).values()];
      const forced = change.kind === 'from' ? downstream(buildGraph(spec), change.node) : new Set<string>();
      const expected = [...simulate(next, runInput)]
        .filter(([, w]) => forced.has(w.node) || !before.some((b) => b.node === w.node && b.v === w.v && JSON.stringify(b.input) === JSON.stringify(w.input)))
        .map(([instance]) => instance)
        .sort();
      const executed = calls.filter((c) => c.startsWith(`${started.runId}/`)).map((c) => c.slice(started.runId.length + 1)).sort();
      expect(executed).toEqual(expected);
      if (change.kind === 'none') {
        expect(executed).toEqual([]);
        expect(again.output).toEqual(source.output);
      }
      // Every worker instance that did not execute was reused from the source run.
      const view = await getRunWithNodes(started.runId);
      for (const [id, node] of Object.entries(view.nodes)) {
        if (node.status === 'completed' && /^(W\d|[ABJPQZ])/.test(id) && !executed.includes(id)) {
          expect(node.metadata.origin, id).toBe('reused');
          expect((node.metadata.reusedFrom as { runId: string }).runId).toBe(sourceId);
        }
      }
    }),
    { numRuns: 30 },
  );
});

/**
 * Property: over random DAGs of sync workers, every run completes, every node instance completes
 * exactly once, and each node's input equals the merge rule applied to its upstream outputs.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { VisualGraph } from '@/types/stitch';
import { createFlow } from '@/lib/engine/flows';
import { getVersion } from '@/lib/db/queries/flows';
import { getRunEvents } from '@/lib/db/runs';
import { mergeInput } from '@/lib/engine/merge-input';
import { startRun } from '@/lib/engine/start-run';
import { registerTestWorker, syncWorker, waitForRun } from '../../../../test/helpers';
import { startTestStitch, type TestStitch } from '../../../../test/db';
import { getPool } from '@/lib/db/pool';

let stitch: TestStitch;

beforeAll(async () => {
  // Output: the input plus a field named after the node; some nodes return a bare string instead.
  registerTestWorker('mark', syncWorker((input, config, { nodeId }) => (config.scalar ? `scalar-${nodeId}` : { ...input, [nodeId]: config.value })));
  stitch = await startTestStitch();
});
afterAll(() => stitch?.destroy());

const dagArbitrary = fc
  .integer({ min: 1, max: 9 })
  .chain((n) =>
    fc.record({
      n: fc.constant(n),
      edges: fc.array(fc.tuple(fc.nat(n - 1), fc.nat(n - 1), fc.boolean()), { maxLength: n * 2 }),
      scalars: fc.array(fc.boolean(), { minLength: n, maxLength: n }),
      input: fc.dictionary(fc.constantFrom('a', 'b', 'c'), fc.integer()),
      protoIds: fc.boolean(),
    }),
  );

/** Ids that are Object.prototype names must be ordinary ids (issue 10 B.9). */
const PROTO_IDS = ['constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf', 'isPrototypeOf'];
const idOf = (i: number, protoIds: boolean) => (protoIds && i < PROTO_IDS.length ? PROTO_IDS[i] : `n${i}`);

function buildGraph({ n, edges, scalars, protoIds }: { n: number; edges: Array<[number, number, boolean]>; scalars: boolean[]; protoIds: boolean }): VisualGraph {
  const seen = new Set<string>();
  const graphEdges = edges
    .filter(([a, b]) => a !== b)
    .map(([a, b, mapped]) => [Math.min(a, b), Math.max(a, b), mapped] as const) // i < j: acyclic
    .filter(([a, b]) => !seen.has(`${a}-${b}`) && seen.add(`${a}-${b}`))
    .map(([a, b, mapped], i) => ({
      id: `e${i}`,
      source: idOf(a, protoIds),
      target: idOf(b, protoIds),
      ...(mapped ? { data: { mapping: { [`from_n${a}`]: idOf(a, protoIds), konst: { value: i } } } } : {}),
    }));
  return {
    nodes: Array.from({ length: n }, (_, i) => ({
      id: idOf(i, protoIds),
      type: 'worker',
      position: { x: 0, y: i * 100 },
      data: { workerType: 'mark', config: { value: i * 10, scalar: scalars[i] } },
    })),
    edges: graphEdges,
  };
}

it('random DAGs of sync workers: complete, exactly once, inputs follow the merge rule', async () => {
  await fc.assert(
    fc.asyncProperty(dagArbitrary, async (spec) => {
      const visual = buildGraph(spec);
      const flow = await createFlow('prop', visual);
      const { runId } = await startRun(flow.id, { input: spec.input });
      const run = await waitForRun(runId);
      expect(run.status).toBe('completed');
      const graph = (await getVersion(getPool(), flow.versionId)).executionGraph;
      expect(Object.keys(run.nodes).sort()).toEqual(Object.keys(graph.nodes).sort());
      const events = await getRunEvents(runId);
      for (const id of Object.keys(graph.nodes)) {
        expect(run.nodes[id].status).toBe('completed');
        expect(events.filter((e) => e.instanceId === id && e.type === 'node:completed')).toHaveLength(1);
        const upstream = Object.fromEntries(graph.reverseAdjacency[id].map((u) => [u, run.nodes[u].output]));
        expect(run.nodes[id].input).toEqual(mergeInput(graph, id, upstream, spec.input));
      }
    }),
    { numRuns: 40 },
  );
});

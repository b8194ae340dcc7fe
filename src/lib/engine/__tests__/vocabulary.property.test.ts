/**
 * Property: over random flows built from workers, switches (with joins) and splitters (nested,
 * with empty arrays, empty branches, direct splitter → collector edges and concurrency windows),
 * every run completes
 * and matches a reference interpreter: exactly the expected instances exist, each settles exactly
 * once, an instance is skipped exactly when no data can reach it, and every collector lists its
 * items' results in item order.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { VisualEdge, VisualGraph, VisualNode } from '@/types/stitch';
import { createFlow } from '@/lib/engine/flows';
import { getRunEvents } from '@/lib/db/runs';
import { instanceIdOf } from '@/lib/engine/instances';
import { startRun } from '@/lib/engine/start-run';
import { registerTestWorker, syncWorker, waitForRun } from '../../../../test/helpers';
import { startTestStitch, type TestStitch } from '../../../../test/db';

let stitch: TestStitch;

beforeAll(async () => {
  registerTestWorker('pass', syncWorker((input, _config, { nodeId }) => ({ ...input, [`seen_${nodeId.replace(/\[.*/, '')}`]: true })));
  stitch = await startTestStitch();
});
afterAll(() => stitch?.destroy());

type Block =
  | { kind: 'work' }
  | { kind: 'switch'; cases: number; withDefault: boolean; branches: Block[][] }
  | { kind: 'split'; inner: Block[]; concurrency?: number };

interface Data {
  v?: number;
  items?: Data[];
  i?: number;
}

/** Deterministic PRNG (mulberry32) so that fast-check's seed reproduces a flow. */
function prng(seed: number) {
  let a = seed >>> 0;
  return (n: number) => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) % n) as number;
  };
}

function genChain(rand: (n: number) => number, depth: number, hasItems: boolean, max: number): Block[] {
  const blocks: Block[] = [];
  const length = rand(max + 1);
  for (let k = 0; k < length; k++) {
    const roll = rand(10);
    if (roll < 3 && depth < 2 && hasItems) {
      const concurrency = rand(3) === 0 ? 1 + rand(2) : undefined;
      blocks.push({ kind: 'split', inner: genChain(rand, depth + 1, depth + 1 < 2, 2), concurrency });
      hasItems = false; // the collector's output replaces the data
    } else if (roll < 6 && depth < 3) {
      const cases = 1 + rand(3);
      const withDefault = rand(2) === 0;
      const branches = Array.from({ length: cases + (withDefault ? 1 : 0) }, () => genChain(rand, depth + 1, false, 1));
      blocks.push({ kind: 'switch', cases, withDefault, branches });
    } else {
      blocks.push({ kind: 'work' });
    }
  }
  return blocks;
}

function genData(rand: (n: number) => number, levels: number): Data {
  return { v: rand(4), items: levels > 0 ? Array.from({ length: rand(4) }, (_, i) => ({ ...genData(rand, levels - 1), i })) : undefined };
}

/** Builds the React Flow graph and, alongside, the interpreter that predicts a run. */
class FlowBuilder {
  nodes: VisualNode[] = [];
  edges: VisualEdge[] = [];
  #n = 0;

  /** The first worker nodes are named after Object.prototype members: ids like any other (issue 10 B.9). */
  #protoIds = ['constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf'];

  node(kind: string, data: Record<string, unknown> = {}): string {
    const id = kind === 'w' && this.#protoIds.length ? this.#protoIds.shift()! : `${kind}${this.#n++}`;
    const type = kind === 'w' || kind === 'j' ? 'worker' : ({ sw: 'switch', sp: 'splitter', c: 'collector', s: 'start', e: 'end' } as Record<string, string>)[kind];
    this.nodes.push({ id, type, position: { x: 0, y: 0 }, data: type === 'worker' ? { workerType: 'pass', ...data } : data });
    return id;
  }

  edge(source: string, target: string, handle?: string): void {
    this.edges.push({ id: `e${this.edges.length}`, source, target, ...(handle ? { sourceHandle: handle } : {}) });
  }

  /** Appends a chain after `from` (edge handle `handle` on its first edge); returns its exit and the predictor. */
  chain(blocks: Block[], from: string, handle?: string): { exit: string; handle?: string; run: Predictor } {
    let exit = from;
    let exitHandle = handle;
    const steps: Predictor[] = [];
    for (const block of blocks) {
      const built = this.block(block, exit, exitHandle);
      exit = built.exit;
      exitHandle = undefined;
      steps.push(built.run);
    }
    return {
      exit,
      handle: exitHandle,
      run: (ctx, alive, data, path) => {
        let state = { alive, data };
        for (const step of steps) state = step(ctx, state.alive, state.data, path);
        return state;
      },
    };
  }

  block(block: Block, from: string, handle?: string): { exit: string; run: Predictor } {
    if (block.kind === 'work') {
      const id = this.node('w');
      this.edge(from, id, handle);
      return { exit: id, run: (ctx, alive, data, path) => (ctx.expect(id, path, alive), { alive, data }) };
    }
    if (block.kind === 'switch') {
      const names = Array.from({ length: block.cases }, (_, c) => `c${c}`);
      const id = this.node('sw', { config: { cases: names.map((name, c) => ({ name, when: `v == ${c}` })) } });
      this.edge(from, id, handle);
      const join = this.node('j');
      const branches = block.branches.map((blocks, b) => {
        const name = b < block.cases ? names[b] : 'default';
        const built = this.chain(blocks, id, name);
        this.edge(built.exit, join, built.handle);
        return { name, run: built.run };
      });
      return {
        exit: join,
        run: (ctx, alive, data, path) => {
          ctx.expect(id, path, alive);
          const chosen = typeof data.v === 'number' && data.v < block.cases ? `c${data.v}` : 'default';
          let joined = false;
          for (const branch of branches) joined = branch.run(ctx, alive && branch.name === chosen, data, path).alive || joined;
          ctx.expect(join, path, joined);
          return { alive: joined, data };
        },
      };
    }
    const splitter = this.node('sp', { config: { arrayPath: 'items', ...(block.concurrency ? { concurrency: block.concurrency } : {}) } });
    this.edge(from, splitter, handle);
    const collector = this.node('c', { config: { field: 'i', as: 'collected' } });
    const inner = this.chain(block.inner, splitter);
    this.edge(inner.exit, collector, inner.handle);
    return {
      exit: collector,
      run: (ctx, alive, data, path) => {
        ctx.expect(splitter, path, alive);
        ctx.expect(collector, path, alive);
        if (!alive) return { alive, data: {} };
        const items = data.items ?? [];
        // An item's result is field `i` of what its branch's last node output (null when skipped or absent).
        const results = items.map((item, index) => {
          const out = inner.run(ctx, true, item, [...path, index]);
          return out.alive ? (out.data.i ?? null) : null;
        });
        ctx.collected.set(instanceIdOf(collector, path), results);
        return { alive, data: {} };
      },
    };
  }
}

type Predictor = (ctx: Expectation, alive: boolean, data: Data, path: number[]) => { alive: boolean; data: Data };

class Expectation {
  statuses = new Map<string, 'completed' | 'skipped'>();
  collected = new Map<string, Array<number | undefined | null>>();
  expect(nodeId: string, path: number[], alive: boolean) {
    this.statuses.set(instanceIdOf(nodeId, path), alive ? 'completed' : 'skipped');
  }
}

function buildFlow(seed: number): { visual: VisualGraph; input: Data; expected: Expectation } {
  const rand = prng(seed);
  const blocks = genChain(rand, 0, true, 4);
  const input = genData(rand, 2);
  const builder = new FlowBuilder();
  const start = builder.node('s');
  const body = builder.chain(blocks, start);
  const end = builder.node('e');
  builder.edge(body.exit, end, body.handle);
  const expected = new Expectation();
  expected.expect(start, [], true);
  const { alive } = body.run(expected, true, input, []);
  expected.expect(end, [], alive);
  return { visual: { nodes: builder.nodes, edges: builder.edges }, input, expected };
}

it('random flows with splitters and switches: exact instances, each settled once, skipped exactly when unreachable, collectors in item order', async () => {
  await fc.assert(
    fc.asyncProperty(fc.integer({ min: 1, max: 2 ** 31 - 1 }), async (seed) => {
      const { visual, input, expected } = buildFlow(seed);
      const flow = await createFlow(`prop-${seed}`, visual);
      const { runId } = await startRun(flow.id, { input });
      const run = await waitForRun(runId);
      expect(run.status, JSON.stringify(run.error)).toBe('completed');

      // Item rows (`sp3[1]`: the item a splitter handed to its scope) are data, not executions.
      const splitters = new Set(visual.nodes.filter((n) => n.type === 'splitter').map((n) => n.id));
      const depthOf = (instanceId: string) => (instanceId.match(/\[/g) ?? []).length;
      const scopeDepth = new Map<string, number>();
      for (const id of expected.statuses.keys()) scopeDepth.set(id.replace(/\[.*/, ''), depthOf(id));
      const executions = Object.entries(run.nodes).filter(([id, n]) => !(splitters.has(n.nodeId) && depthOf(id) > (scopeDepth.get(n.nodeId) ?? 0)));
      const actual = Object.fromEntries(executions.map(([id, n]) => [id, n.status]));
      expect(actual).toEqual(Object.fromEntries(expected.statuses));

      const events = await getRunEvents(runId, 0, 100_000);
      const settles = new Map<string, number>();
      for (const e of events) {
        if (e.instanceId && (e.type === 'node:completed' || e.type === 'node:skipped' || e.type === 'node:failed')) {
          settles.set(e.instanceId, (settles.get(e.instanceId) ?? 0) + 1);
        }
      }
      for (const id of expected.statuses.keys()) expect(settles.get(id) ?? 0, `settles of ${id}`).toBe(1);
      expect(events.filter((e) => e.type === 'run:completed')).toHaveLength(1);

      for (const [id, results] of expected.collected) expect(run.nodes[id].output, id).toEqual({ collected: results });
    }),
    { numRuns: 60 },
  );
});

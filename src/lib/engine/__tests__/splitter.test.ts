/**
 * Splitter/collector over whole subgraphs, on the real database: item order, nesting, empty arrays,
 * per-item failure policies, single-item retry, concurrency windows, and the collector settling
 * exactly once when many items finish at the same moment.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { VisualGraph } from '@/types/stitch';
import { createFlow } from '@/lib/engine/flows';
import { getPool } from '@/lib/db/pool';
import { getRunEvents, getRunWithNodes, updateNodeState } from '@/lib/db/runs';
import { completeNode } from '@/lib/engine/complete-node';
import { retryNode, startRun } from '@/lib/engine/start-run';
import { eventually, graph, registerTestWorker, syncWorker, waitForRun } from '../../../../test/helpers';
import { startTestStitch, type TestStitch } from '../../../../test/db';

let stitch: TestStitch;
const failOnce = new Set<string>();
let inFlight = 0;
let maxInFlight = 0;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  // Random delays so that items finish out of order.
  registerTestWorker('double', syncWorker(async (input) => {
    await sleep(Math.random() * 30);
    return { ...input, doubled: input.n * 2 };
  }));
  registerTestWorker('label', syncWorker((input) => ({ ...input, label: `#${input.doubled}` })));
  registerTestWorker('boom', syncWorker((input, _config, { runId, nodeId }) => {
    if (input.n === 3 && !failOnce.has(`${runId}/${nodeId}`)) {
      failOnce.add(`${runId}/${nodeId}`);
      throw new Error(`item ${input.n} exploded`);
    }
    if (input.n === 13) throw new Error('thirteen is unlucky');
    return { ...input, ok: true };
  }), { retry: { attempts: 1 } });
  registerTestWorker('slow', syncWorker(async (input) => {
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    await sleep(40);
    inFlight--;
    return input;
  }));
  registerTestWorker('held', class {
    async execute(runId: string, nodeId: string, _config: unknown, input: unknown) {
      await updateNodeState(runId, nodeId, { status: 'running', output: input });
    }
  }, { type: 'async', retry: { attempts: 1 } });
  stitch = await startTestStitch({ concurrency: 40 });
});
afterAll(() => stitch?.destroy());

async function run(g: VisualGraph, input: unknown) {
  const flow = await createFlow('split', g);
  const { runId } = await startRun(flow.id, { input });
  return waitForRun(runId);
}

const chain = (collector: Record<string, unknown> = {}, splitter: Record<string, unknown> = {}, worker = 'double') =>
  graph(
    [
      { id: 's', type: 'start' },
      { id: 'split', type: 'splitter', config: { arrayPath: 'items', ...splitter } },
      { id: 'a', workerType: worker },
      { id: 'b', workerType: 'label' },
      { id: 'c', type: 'collector', config: collector },
      { id: 'e', type: 'end' },
    ],
    [['s', 'split'], ['split', 'a'], ['a', 'b'], ['b', 'c'], ['c', 'e']],
  );

const items = (n: number) => Array.from({ length: n }, (_, i) => ({ n: i }));

describe('splitter → chain → collector', () => {
  it('runs the whole chain once per item and collects results in item order', async () => {
    const r = await run(chain(), { items: items(5), topic: 'x' });
    expect(r.status).toBe('completed');
    expect(r.nodes.c.output).toEqual([0, 1, 2, 3, 4].map((n) => ({ n, doubled: n * 2, label: `#${n * 2}` })));
    expect(r.output).toEqual({ c: r.nodes.c.output });
    for (let i = 0; i < 5; i++) {
      expect(r.nodes[`split[${i}]`]).toMatchObject({ nodeId: 'split', status: 'completed', output: { n: i } });
      expect(r.nodes[`a[${i}]`]).toMatchObject({ nodeId: 'a', status: 'completed', input: { n: i } });
      expect(r.nodes[`b[${i}]`]).toMatchObject({ nodeId: 'b', status: 'completed' });
    }
    expect(r.nodes.split.output).toEqual({ count: 5 });
    // No scope node exists outside its items.
    expect(r.nodes.a).toBeUndefined();
  });

  it('takes a named field of each result, and puts results under config.as', async () => {
    const r = await run(chain({ field: 'label', as: 'labels' }), { items: items(3) });
    expect(r.nodes.c.output).toEqual({ labels: ['#0', '#2', '#4'] });
  });

  it('splits the whole input when it is an array, and wraps scalar items with config.as', async () => {
    const g = graph(
      [{ id: 'split', type: 'splitter', config: { as: 'n' } }, { id: 'a', workerType: 'double' }, { id: 'c', type: 'collector', config: { field: 'doubled' } }],
      [['split', 'a'], ['a', 'c']],
    );
    const r = await run(g, [5, 6, 7]);
    expect(r.status).toBe('completed');
    expect(r.nodes.c.output).toEqual([10, 12, 14]);
  });

  it('goes straight to the collector with [] on an empty array', async () => {
    const r = await run(chain(), { items: [] });
    expect(r.status).toBe('completed');
    expect(r.nodes.c.output).toEqual([]);
    expect(r.nodes.e.output).toEqual({ c: [] });
    expect(Object.keys(r.nodes).sort()).toEqual(['c', 'e', 's', 'split']);
  });

  it('fails the splitter with a clear message when there is no array', async () => {
    const r = await run(chain(), { things: [1], other: 2 });
    expect(r.status).toBe('failed');
    expect(r.nodes.split.error).toContain('config.arrayPath "items" is not an array (found nothing)');
    expect(r.nodes.split.error).toContain('Array fields in its input: things');
  });

  it('runs nested splitters with index paths, each level in item order', async () => {
    const g = graph(
      [
        { id: 'outer', type: 'splitter', config: { arrayPath: 'groups' } },
        { id: 'inner', type: 'splitter', config: { arrayPath: 'items' } },
        { id: 'a', workerType: 'double' },
        { id: 'ic', type: 'collector', config: { field: 'doubled', as: 'doubled' } },
        { id: 'oc', type: 'collector', config: { field: 'doubled' } },
      ],
      [['outer', 'inner'], ['inner', 'a'], ['a', 'ic'], ['ic', 'oc']],
    );
    const groups = [{ items: items(3) }, { items: [] }, { items: items(2) }];
    const r = await run(g, { groups });
    expect(r.status).toBe('completed');
    expect(r.nodes.oc.output).toEqual([[0, 2, 4], [], [0, 2]]);
    expect(r.nodes['a[2][1]']).toMatchObject({ status: 'completed', input: { n: 1 } });
    expect(r.nodes['ic[1]'].output).toEqual({ doubled: [] });
  });

  it('joins branches inside an item and keeps direct splitter → collector items', async () => {
    const g = graph(
      [
        { id: 'split', type: 'splitter' },
        { id: 'a', workerType: 'double' },
        { id: 'b', workerType: 'label' },
        { id: 'c', type: 'collector', config: { from: 'b' } },
      ],
      [['split', 'a'], ['split', 'b'], ['a', 'b'], ['b', 'c'], ['split', 'c']],
    );
    const r = await run(g, items(3));
    expect(r.status).toBe('completed');
    expect(r.nodes.c.output).toEqual([0, 1, 2].map((n) => ({ n, doubled: 2 * n, label: `#${2 * n}` })));
  });
});

describe('per-item failures', () => {
  it('policy fail (default): the run fails and the other items are cancelled or skipped', async () => {
    const r = await run(chain({}, {}, 'boom'), { items: items(20).map((x) => ({ n: x.n === 3 ? 13 : x.n + 100 })) });
    expect(r.status).toBe('failed');
    expect(r.nodes['a[3]']).toMatchObject({ status: 'failed', error: 'thirteen is unlucky' });
    expect(r.error).toContain('a[3]');
    expect(r.nodes.c.status).toBe('skipped');
    expect(r.nodes.e.status).toBe('skipped');
    const open = Object.values(r.nodes).filter((n) => ['pending', 'running', 'waiting_for_user'].includes(n.status));
    expect(open).toEqual([]);
  });

  it('policy collect: errors are collected beside results and the run completes', async () => {
    const r = await run(chain({ onItemError: 'collect' }, {}, 'boom'), { items: [{ n: 1 }, { n: 13 }, { n: 2 }] });
    expect(r.status).toBe('completed');
    expect(r.nodes.c.output).toEqual({
      results: [{ n: 1, ok: true, label: '#undefined' }, null, { n: 2, ok: true, label: '#undefined' }],
      errors: [{ index: 1, instanceId: 'a[1]', nodeId: 'a', error: 'thirteen is unlucky' }],
    });
    expect(r.nodes['a[1]'].status).toBe('failed');
    expect(r.nodes['b[1]'].status).toBe('skipped');
    await expect(retryNode(r.id, 'a[1]')).rejects.toMatchObject({ code: 'conflict' });
  });

  it('retries one failed item alone; the collector then completes with every item in order', async () => {
    const flow = await createFlow('retry-item', chain({}, {}, 'boom'));
    const { runId } = await startRun(flow.id, { input: { items: items(6) } });
    const failed = await waitForRun(runId);
    expect(failed.status).toBe('failed');
    expect(failed.nodes['a[3]'].status).toBe('failed');
    const completedBefore = Object.keys(failed.nodes).filter((id) => failed.nodes[id].status === 'completed');
    await expect(retryNode(runId, 'a[9]')).rejects.toMatchObject({ code: 'not_found' });
    expect(await retryNode(runId, 'a[3]')).toEqual({ attempt: 2 });
    const done = await waitForRun(runId, { status: 'completed' });
    expect(done.nodes.c.output).toEqual(items(6).map(({ n }) => ({ n, ok: true, label: '#undefined' })));
    expect(done.nodes['a[3]'].attempt).toBe(2);
    // Items that had completed were not run again.
    for (const id of completedBefore) expect(done.nodes[id].attempt).toBe(failed.nodes[id].attempt);
    const events = await getRunEvents(runId);
    expect(events.filter((e) => e.instanceId === 'c' && e.type === 'node:completed')).toHaveLength(1);
  });
});

describe('concurrency and races', () => {
  it('config.concurrency bounds the items in flight and still finishes every item in order', async () => {
    maxInFlight = 0;
    const r = await run(chain({ field: 'n' }, { concurrency: 3 }, 'slow'), { items: items(12) });
    expect(r.status).toBe('completed');
    expect(r.nodes.c.output).toEqual(items(12).map((x) => x.n));
    expect(maxInFlight).toBeLessThanOrEqual(3);
    expect(maxInFlight).toBeGreaterThan(1);
  });

  it('hammer: 50 items completing at once settle the collector exactly once (20 repetitions)', async () => {
    const g = graph(
      [{ id: 'split', type: 'splitter' }, { id: 'h', workerType: 'held' }, { id: 'c', type: 'collector', config: { field: 'n' } }],
      [['split', 'h'], ['h', 'c']],
    );
    const flow = await createFlow('hammer', g);
    for (let rep = 0; rep < 20; rep++) {
      const { runId } = await startRun(flow.id, { input: items(50) });
      await eventually(async () => {
        // Running *and* its input stored by the worker (the callback output merges over it).
        const { rows } = await getPool().query(
          `SELECT count(*)::int AS n FROM stitch_node_runs WHERE run_id = $1 AND node_id = 'h' AND status = 'running' AND output IS NOT NULL`,
          [runId],
        );
        return rows[0].n === 50;
      });
      await Promise.all(
        items(50).map(({ n }) => completeNode({ runId, instanceId: `h[${n}]`, attempt: 1, status: 'completed', output: { done: true } })),
      );
      const r = await waitForRun(runId);
      expect(r.status).toBe('completed');
      expect(r.nodes.c.output).toEqual(items(50).map((x) => x.n));
      const events = await getRunEvents(runId, 0, 10_000);
      expect(events.filter((e) => e.instanceId === 'c' && e.type === 'node:completed')).toHaveLength(1);
      expect(events.filter((e) => e.instanceId === 'c' && e.type === 'node:pending')).toHaveLength(1);
      expect(events.filter((e) => e.type === 'run:completed')).toHaveLength(1);
    }
  });
});

describe('retry of an item row', () => {
  it('refuses to retry what never failed', async () => {
    const r = await run(chain(), { items: items(2) });
    await expect(retryNode(r.id, 'a[0]')).rejects.toMatchObject({ code: 'conflict' });
    expect((await getRunWithNodes(r.id)).status).toBe('completed');
  });
});

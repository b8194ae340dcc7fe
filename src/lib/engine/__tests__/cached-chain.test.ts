/**
 * Eager dispatch through step-cache hits (cached-chain.ts, stitch_settle_chain): a chain of cached
 * nodes that take their upstream's output as input completes from the cache in one statement; the
 * first miss executes and the chain goes on after it; the keys the statement computes are the
 * keys the executions stored.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFlow } from '@/lib/engine/flows';
import { getPool } from '@/lib/db/pool';
import { getRunEvents } from '@/lib/db/runs';
import { startRun } from '@/lib/engine/start-run';
import { graph, registerTestWorker, syncWorker, waitForRun } from '../../../../test/helpers';
import { startTestStitch, type TestStitch } from '../../../../test/db';

let stitch: TestStitch;
const executed: string[] = [];

beforeAll(async () => {
  registerTestWorker(
    'chain-echo',
    syncWorker((input, _config, { nodeId }) => {
      executed.push(nodeId);
      return { ...input, [nodeId]: (input[nodeId] ?? 0) + 1 };
    }),
  );
  stitch = await startTestStitch();
});
afterAll(() => stitch?.destroy());

const cached = (id: string) => ({ id, workerType: 'chain-echo', cache: true });

async function rows(runId: string) {
  const { rows } = await getPool().query<{ instance_id: string; origin: string | null; finished_at: Date; output: unknown }>(
    `SELECT instance_id, metadata ->> 'origin' AS origin, finished_at, output FROM stitch_node_runs WHERE run_id = $1`,
    [runId],
  );
  return Object.fromEntries(rows.map((r) => [r.instance_id, r]));
}

describe('a chain of step-cache hits', () => {
  it('completes from the cache in one statement; a miss executes and the chain goes on after it', async () => {
    const flow = await createFlow('cached-chain', graph(['s:start', cached('a'), cached('b'), cached('c'), 'e:end'], [['s', 'a'], ['a', 'b'], ['b', 'c'], ['c', 'e']]));
    const first = await waitForRun((await startRun(flow.id, { input: { q: 1 } })).runId);
    expect(first.status).toBe('completed');
    expect(executed.splice(0)).toEqual(['a', 'b', 'c']);

    const second = await waitForRun((await startRun(flow.id, { input: { q: 1 } })).runId);
    expect(second.status).toBe('completed');
    expect(second.output).toEqual(first.output);
    expect(executed.splice(0)).toEqual([]);
    const hit = await rows(second.id);
    expect(['a', 'b', 'c'].map((id) => hit[id].origin)).toEqual(['cached', 'cached', 'cached']);
    // b and c were settled by a's statement: one transaction, one timestamp.
    expect(hit.b.finished_at.getTime()).toBe(hit.a.finished_at.getTime());
    expect(hit.c.finished_at.getTime()).toBe(hit.a.finished_at.getTime());
    const events = (await getRunEvents(second.id)).map((e) => `${e.instanceId}:${e.type}`);
    expect(events).toEqual(expect.arrayContaining(['b:node:cached', 'b:node:completed', 'c:node:cached', 'c:node:completed']));
    expect(events).not.toContain('b:node:pending');

    // b's entry is gone: a is a hit, b executes (same input, same output), c is a hit again.
    await getPool().query(`DELETE FROM stitch_cache WHERE run_id = $1 AND instance_id = 'b'`, [first.id]);
    const third = await waitForRun((await startRun(flow.id, { input: { q: 1 } })).runId);
    expect(third.status).toBe('completed');
    expect(third.output).toEqual(first.output);
    expect(executed.splice(0)).toEqual(['b']);
    const after = await rows(third.id);
    expect(['a', 'b', 'c'].map((id) => after[id].origin)).toEqual(['cached', null, 'cached']);

    // Another input is another key all the way down.
    const fourth = await waitForRun((await startRun(flow.id, { input: { q: 2 } })).runId);
    expect(fourth.output).toEqual({ q: 2, a: 1, b: 1, c: 1 });
    expect(executed.splice(0)).toEqual(['a', 'b', 'c']);
  });

  it('leaves a node whose input is mapped to its own lookup, with the same result', async () => {
    const flow = await createFlow(
      'cached-mapped',
      graph(['s:start', cached('a'), cached('m'), 'e:end'], [['s', 'a'], { source: 'a', target: 'm', data: { mapping: { q: 'q' } } }, ['m', 'e']]),
    );
    const first = await waitForRun((await startRun(flow.id, { input: { q: 7 } })).runId);
    expect(executed.splice(0)).toEqual(['a', 'm']);
    const second = await waitForRun((await startRun(flow.id, { input: { q: 7 } })).runId);
    expect(second.output).toEqual(first.output);
    expect(executed.splice(0)).toEqual([]);
    const hit = await rows(second.id);
    expect([hit.a.origin, hit.m.origin]).toEqual(['cached', 'cached']);
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFlow } from '@/lib/engine/flows';
import { getPool } from '@/lib/db/pool';
import { getRunEvents } from '@/lib/db/runs';
import { cancelRun, retryNode, startRun } from '@/lib/engine/start-run';
import { graph, registerTestWorker, syncWorker, waitForRun } from '../../../../test/helpers';
import { startTestStitch, type TestStitch } from '../../../../test/db';

let stitch: TestStitch;
const calls = new Map<string, number>();

beforeAll(async () => {
  registerTestWorker('echo', syncWorker((input, config, { nodeId }) => ({ ...input, [`seen_${nodeId}`]: true, ...(config.add ?? {}) })));
  registerTestWorker('text', syncWorker((_input, config) => config.text ?? 'plain text'));
  registerTestWorker(
    'flaky',
    syncWorker((input, config, { runId, nodeId }) => {
      const key = `${runId}/${nodeId}`;
      const n = (calls.get(key) ?? 0) + 1;
      calls.set(key, n);
      if (n <= (config.failTimes ?? 0)) throw new Error(`flaky failure #${n}`);
      return { ...input, flakyCalls: n };
    }),
    { retry: { attempts: 3, backoffMs: 20, maxBackoffMs: 100 } },
  );
  stitch = await startTestStitch();
});
afterAll(() => stitch?.destroy());

async function run(g: ReturnType<typeof graph>, input: unknown = {}) {
  const flow = await createFlow('t', g);
  const { runId } = await startRun(flow.id, { input });
  return waitForRun(runId);
}

describe('edge walking', () => {
  it('runs a linear chain, passing data through', async () => {
    const r = await run(graph(['s:start', 'a', 'b', 'e:end'], [['s', 'a'], ['a', 'b'], ['b', 'e']]), { topic: 'otters' });
    expect(r.status).toBe('completed');
    expect(r.output).toEqual({ topic: 'otters', seen_a: true, seen_b: true });
    expect(Object.values(r.nodes).map((n) => n.status)).toEqual(['completed', 'completed', 'completed', 'completed']);
    expect(r.nodes.b.input).toEqual({ topic: 'otters', seen_a: true });
  });

  it('merges a diamond at the fan-in node in edge order, running it once', async () => {
    const g = graph(
      [
        { id: 's', type: 'start' },
        { id: 'left', workerType: 'echo', config: { add: { side: 'left', l: 1 } } },
        { id: 'right', workerType: 'echo', config: { add: { side: 'right', r: 1 } } },
        'join',
      ],
      [['s', 'left'], ['s', 'right'], ['left', 'join'], ['right', 'join']],
    );
    const r = await run(g, { x: 1 });
    expect(r.status).toBe('completed');
    // right's edge comes last, so its `side` wins.
    expect(r.nodes.join.input).toEqual({ x: 1, seen_left: true, seen_right: true, side: 'right', l: 1, r: 1 });
    const events = await getRunEvents(r.id);
    expect(events.filter((e) => e.instanceId === 'join' && e.type === 'node:completed')).toHaveLength(1);
  });

  it('gives the run input to every entry node', async () => {
    const r = await run(graph(['a', 'b', 'c', 'j'], [['a', 'j'], ['b', 'j'], ['c', 'j']]), { seed: 7 });
    expect(r.status).toBe('completed');
    for (const id of ['a', 'b', 'c']) expect(r.nodes[id].input).toEqual({ seed: 7 });
    expect(r.output).toEqual({ seed: 7, seen_a: true, seen_b: true, seen_c: true, seen_j: true });
  });

  it('applies edge mappings (paths and constants) and nests non-object outputs under the node id', async () => {
    const g = graph(
      [{ id: 'a', workerType: 'echo', config: { add: { deep: { title: 'T', list: ['x', 'y'] } } } }, { id: 't', workerType: 'text', config: { text: 'hello' } }, 'b'],
      [
        { source: 'a', target: 'b', data: { mapping: { heading: 'deep.title', second: 'deep.list.1', lang: { value: 'en' }, missing: 'nope.nope' } } },
        ['t', 'b'],
      ],
    );
    const r = await run(g, { ignored: true });
    expect(r.nodes.b.input).toEqual({ heading: 'T', second: 'y', lang: 'en', t: 'hello' });
  });
});

describe('failures and retries', () => {
  it('retries with backoff, then succeeds, recording every attempt', async () => {
    const g = graph([{ id: 'f', workerType: 'flaky', config: { failTimes: 2 } }, 'after'], [['f', 'after']]);
    const r = await run(g, {});
    expect(r.status).toBe('completed');
    expect(r.nodes.f.attempt).toBe(3);
    expect(r.nodes.f.output).toMatchObject({ flakyCalls: 3 });
    const events = await getRunEvents(r.id);
    const retries = events.filter((e) => e.type === 'node:retrying' && e.instanceId === 'f');
    expect(retries.map((e) => e.payload.attempt)).toEqual([1, 2]);
    expect(retries[0].payload.error).toBe('flaky failure #1');
    expect(retries.every((e) => (e.payload.delayMs as number) >= 15 && (e.payload.delayMs as number) <= 125)).toBe(true);
  });

  it('fails the run after the last attempt and skips untouched downstream nodes', async () => {
    const g = graph(
      [{ id: 'f', workerType: 'flaky', config: { failTimes: 99 } }, 'next', 'last', 'other'],
      [['f', 'next'], ['next', 'last']],
    );
    const r = await run(g, {});
    expect(r.status).toBe('failed');
    expect(r.error).toContain('failed after 3 attempts: flaky failure #3');
    expect(r.nodes.f.status).toBe('failed');
    expect(r.nodes.next.status).toBe('skipped');
    expect(r.nodes.last.status).toBe('skipped');
    expect(r.nodes.other.status).toBe('completed');
  });

  it('lets a continueOnError node fail while downstream receives its error', async () => {
    const g = graph([{ id: 'f', workerType: 'flaky', config: { failTimes: 99 }, continueOnError: true, retry: { attempts: 1 } }, 'after'], [['f', 'after']]);
    const r = await run(g, {});
    expect(r.status).toBe('completed');
    expect(r.nodes.f.status).toBe('failed');
    expect(r.nodes.after.input).toEqual({ error: 'flaky failure #1' });
  });

  it('retries a failed node by hand and the run completes', async () => {
    const g = graph([{ id: 'f', workerType: 'flaky', config: { failTimes: 1 }, retry: { attempts: 1 } }, 'after'], [['f', 'after']]);
    const flow = await createFlow('manual-retry', g);
    const { runId } = await startRun(flow.id, {});
    const failed = await waitForRun(runId);
    expect(failed.status).toBe('failed');
    expect(failed.nodes.after.status).toBe('skipped');
    expect(await retryNode(runId, 'f')).toEqual({ attempt: 2 });
    const done = await waitForRun(runId, { status: 'completed' });
    expect(done.nodes.f.attempt).toBe(2);
    expect(done.nodes.after.status).toBe('completed');
    await expect(retryNode(runId, 'f')).rejects.toMatchObject({ code: 'conflict' });
  });

  it('fails a sync worker that returns without a callback', async () => {
    registerTestWorker('silent', class {
      async execute() {}
    }, { retry: { attempts: 1 } });
    const r = await run(graph(['x:silent'], []), {});
    expect(r.status).toBe('failed');
    expect(r.nodes.x.error).toContain('returned without calling triggerCallback');
  });

  it('validates input against the definition before execute', async () => {
    let executed = false;
    registerTestWorker('strict', class {
      async execute() {
        executed = true;
      }
    }, { input: { title: { type: 'string', required: true, description: 't' }, count: { type: 'number', description: 'c', default: 3 } } });
    const r = await run(graph(['x:strict'], []), { count: 'many' });
    expect(r.status).toBe('failed');
    expect(r.nodes.x.error).toContain('Missing required field: title');
    expect(r.nodes.x.error).toContain('Field count must be number, got string');
    expect(r.nodes.x.attempt).toBe(1); // invalid input is not retried
    expect(executed).toBe(false);
  });
});

describe('cancel', () => {
  it('cancels a run: open work cancelled, unreached nodes skipped, no later changes', async () => {
    const g = graph([{ id: 'w', workerType: 'wait', config: { seconds: 30 } }, 'after'], [['w', 'after']]);
    const flow = await createFlow('cancel', g);
    const { runId } = await startRun(flow.id, {});
    await waitForRun(runId, { status: 'running' });
    for (let i = 0; i < 200; i++) {
      const { rows } = await getPool().query(`SELECT status FROM stitch_node_runs WHERE run_id = $1 AND instance_id = 'w'`, [runId]);
      if (rows[0]?.status === 'running') break;
      await new Promise((res) => setTimeout(res, 25));
    }
    await cancelRun(runId);
    const r = await waitForRun(runId);
    expect(r.status).toBe('cancelled');
    expect(r.nodes.w.status).toBe('cancelled');
    expect(r.nodes.after.status).toBe('skipped');
    await expect(cancelRun(runId)).rejects.toMatchObject({ code: 'conflict' });
  });
});

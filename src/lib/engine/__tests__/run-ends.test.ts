/**
 * Issue 10, part A: runs that never ended and joins that fired early at the engine's edges. Each
 * test reproduces one finding (it failed before the fix) and checks that the run now ends with
 * every node's effect counted once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { VisualGraph } from '@/types/stitch';
import { createFlow } from '@/lib/engine/flows';
import { getPool } from '@/lib/db/pool';
import { transientRetryCount } from '@/lib/db/transient';
import { getRunEvents, getRunWithNodes, updateNodeState } from '@/lib/db/runs';
import { startQueueRunner } from '@/lib/engine/runner';
import { retryNode, startRun } from '@/lib/engine/start-run';
import { markRunning } from '@/lib/engine/transitions';
import { scheduleCallback, triggerCallback } from '@/lib/workers/utils';
import type { IWorker } from '@/lib/workers/base';
import { eventually, graph, registerTestWorker, syncWorker, waitForRun } from '../../../../test/helpers';
import { startTestStitch, type TestStitch } from '../../../../test/db';

let stitch: TestStitch;
const calls = new Map<string, number>();
const count = (key: string) => calls.set(key, (calls.get(key) ?? 0) + 1).get(key)!;

/** Async: hands off to a durable scheduled callback (as the `wait` worker and async mocks do). */
class HandoffWorker implements IWorker {
  async execute(runId: string, nodeId: string): Promise<void> {
    count(`handoff:${runId}`);
    await scheduleCallback(runId, nodeId, { status: 'completed', output: { handedOff: true } }, 0.05);
  }
}

/** Async, mid-submit: the vendor's failure reaches Stitch before the submit returns, then the worker stores its state. */
class FailsDuringSubmitWorker implements IWorker {
  async execute(runId: string, nodeId: string, _config: unknown, input: unknown): Promise<void> {
    const n = count(`submit:${runId}`);
    if (n === 1) {
      await triggerCallback(runId, nodeId, { status: 'failed', error: 'vendor said no during submit' });
      await updateNodeState(runId, nodeId, { status: 'running', output: input }); // late: attempt 2 exists now
      return;
    }
    await updateNodeState(runId, nodeId, { status: 'running', output: input });
    await scheduleCallback(runId, nodeId, { status: 'completed', output: { submitted: n } }, 0.05);
  }
}

beforeAll(async () => {
  registerTestWorker('echo', syncWorker((input) => input));
  registerTestWorker('handoff', HandoffWorker, { type: 'async', timeoutSeconds: 60 });
  registerTestWorker('fails-during-submit', FailsDuringSubmitWorker, { type: 'async', timeoutSeconds: 60, retry: { attempts: 3, backoffMs: 20, maxBackoffMs: 50 } });
  registerTestWorker('needs-field', syncWorker((input) => {
    if (input.value === undefined) throw new Error('input.value is missing');
    return { picked: input.value };
  }));
  registerTestWorker('slow-async', class implements IWorker {
    async execute(runId: string, nodeId: string): Promise<void> {
      await scheduleCallback(runId, nodeId, { status: 'completed', output: { b: 'done' } }, 3);
    }
  }, { type: 'async', timeoutSeconds: 60 });
  stitch = await startTestStitch({ runner: false });
});
afterAll(() => stitch?.destroy());

async function withRunner<T>(fn: () => Promise<T>): Promise<T> {
  const runner = await startQueueRunner({ runtime: stitch.runtime, url: stitch.db.url, databaseWaitSeconds: 60, concurrency: 4, heartbeatSeconds: 5, staleRunnerSeconds: 30, pollIntervalMs: 100 });
  try {
    return await fn();
  } finally {
    await runner.stop();
  }
}

/** Save a flow, then change its compiled graph directly: settings that save-time checks would refuse. */
async function saveUnchecked(g: VisualGraph, patch: (execution: any) => void): Promise<string> {
  const flow = await createFlow(`unchecked-${Math.random()}`, g);
  const { rows } = await getPool().query('SELECT execution_graph FROM stitch_flow_versions WHERE id = $1', [flow.versionId]);
  const execution = rows[0].execution_graph;
  patch(execution);
  await getPool().query('UPDATE stitch_flow_versions SET execution_graph = $2 WHERE id = $1', [flow.versionId, JSON.stringify(execution)]);
  return flow.id;
}

async function graphileJobsOf(runId: string): Promise<number> {
  const { rows } = await getPool().query(`SELECT count(*)::int AS n FROM graphile_worker._private_jobs WHERE payload ->> 'r' = $1`, [runId]);
  return rows[0].n;
}

describe('A.0 an async hand-off cut short by a crash', () => {
  it('a redelivered execute job of a node left running by a dead process runs the worker again, and the run ends', async () => {
    const flow = await createFlow('handoff', graph(['w:handoff', 'e:end'], [['w', 'e']]));
    const { runId, versionId } = await startRun(flow.id, { input: { x: 1 } });
    // The dead process's last commit: the node marked running, its deadline scheduled; the
    // execute job never completed and the worker's hand-off never happened.
    expect(await markRunning({ runId, versionId, instanceId: 'w', attempt: 1 }, { x: 1 }, 60)).toBe(true);
    const r = await withRunner(() => waitForRun(runId, { timeoutMs: 20_000 }));
    expect(r.status).toBe('completed');
    expect(r.nodes.w.output).toMatchObject({ handedOff: true });
    expect(calls.get(`handoff:${runId}`)).toBe(1);
    // The keyed deadline job went with the node: nothing is left in the queue for a finished run.
    expect(await graphileJobsOf(runId)).toBe(0);
  });
});

describe('A.1 / A.4 every state write names its attempt', () => {
  it('a late running write of attempt 1 does not flip the retry (attempt 2) to running; the retry submits and the run ends', async () => {
    const flow = await createFlow('submit', graph(['s:start', 'm:fails-during-submit', 'e:end'], [['s', 'm'], ['m', 'e']]));
    const { runId } = await startRun(flow.id, { input: {} });
    const r = await withRunner(() => waitForRun(runId, { timeoutMs: 20_000 }));
    expect(r.status).toBe('completed');
    expect(r.nodes.m.attempt).toBe(2);
    expect(r.nodes.m.output).toMatchObject({ submitted: 2 });
    const events = await getRunEvents(runId);
    // No node:running of attempt 2 before attempt 2 executed: the stale write was refused.
    const running = events.filter((e) => e.instanceId === 'm' && e.type === 'node:running');
    expect(running.every((e) => (e.payload as { attempt: number }).attempt === 2 || running.indexOf(e) === 0)).toBe(true);
  });

  it('retry of a run failed by a parallel branch while an async node is mid-submit: the old attempt\'s write is refused', async () => {
    // start → {m (mid-submit), f (fails)}; f fails the run and cancels m; retrying f reopens m as a
    // new attempt; m's first execution then writes its state late (attempt 1) and must change nothing.
    let release!: () => void;
    const submitted = new Promise<void>((resolve) => (release = resolve));
    let entered!: () => void;
    const inSubmit = new Promise<void>((resolve) => (entered = resolve));
    registerTestWorker('mid-submit', class implements IWorker {
      async execute(runId: string, nodeId: string, _c: unknown, input: unknown): Promise<void> {
        const n = count(`mid:${runId}`);
        if (n === 1) {
          entered();
          await submitted;
          await updateNodeState(runId, nodeId, { status: 'running', output: input });
          return;
        }
        await updateNodeState(runId, nodeId, { status: 'running', output: input });
        await scheduleCallback(runId, nodeId, { status: 'completed', output: { attempt: n } }, 0.05);
      }
    }, { type: 'async', timeoutSeconds: 60 });
    // f fails only once m is inside its submit (else the run could fail before m ever starts).
    registerTestWorker('fails-once-m-submits', syncWorker(async (input, _config, { runId }) => {
      if (count(`fails-once-m:${runId}`) === 1) {
        await inSubmit;
        throw new Error('first attempt fails');
      }
      return input;
    }), { retry: { attempts: 1 } });
    const flow = await createFlow('mid-submit', graph(
      ['s:start', 'm:mid-submit', 'f:fails-once-m-submits', 'e:end'],
      [['s', 'm'], ['s', 'f'], ['m', 'e'], ['f', 'e']],
    ));
    const { runId } = await startRun(flow.id, { input: {} });
    await withRunner(async () => {
      await inSubmit;
      const failed = await waitForRun(runId, { timeoutMs: 20_000 });
      expect(failed.status).toBe('failed');
      expect(failed.nodes.m.status).toBe('cancelled');
      await retryNode(runId, 'f');
      // m is reopened as attempt 2 and runs while attempt 1 is still inside its submit.
      await eventually(async () => (await getRunWithNodes(runId)).nodes.m?.attempt === 2);
      release();
      const r = await waitForRun(runId, { timeoutMs: 20_000 });
      expect(r.status).toBe('completed');
      expect(r.nodes.m.attempt).toBe(2);
      expect(r.nodes.m.output).toMatchObject({ attempt: 2 });
    });
  });
});

describe('A.2 an exception inside a queue job, outside the worker, ends the node', () => {
  const cases: Array<[string, VisualGraph, (execution: any) => void]> = [
    [
      'a wait node with timeoutSeconds 1e308 (interval out of range in SQL)',
      graph(['s:start', { id: 'w', workerType: 'wait', config: { seconds: 0 } }, 'e:end'], [['s', 'w'], ['w', 'e']]),
      (x) => (x.nodes.w.timeoutSeconds = 1e308),
    ],
    [
      'a retry policy with maxBackoffMs "x" (NaN delay)',
      graph(['s:start', 'n:needs-field', 'e:end'], [['s', 'n'], ['n', 'e']]),
      (x) => (x.nodes.n.retry = { attempts: 3, maxBackoffMs: 'x' }),
    ],
    [
      'a switch condition nested 40,000 deep (stack overflow at evaluation)',
      graph(
        ['s:start', { id: 'sw', type: 'switch', config: { cases: [{ name: 'one', when: 'a == 1' }] } }, 'e:end'],
        [['s', 'sw'], { source: 'sw', target: 'e', sourceHandle: 'one' }],
      ),
      (x) => (x.nodes.sw.config.cases[0].when = 'a == 1 or '.repeat(40_000) + 'a == 2'),
    ],
  ];
  for (const [name, g, patch] of cases) {
    it(name, async () => {
      const flowId = await saveUnchecked(g, patch);
      const { runId } = await startRun(flowId, { input: { a: 2 } });
      const r = await withRunner(() => waitForRun(runId, { timeoutMs: 20_000 }));
      expect(r.status).toBe('failed');
      const failedNode = Object.values(r.nodes).find((n) => n.status === 'failed')!;
      expect(failedNode.error).toMatch(/^internal_error: /);
      expect(await graphileJobsOf(runId)).toBe(0);
    });
  }

  it('calls a sync worker once: the queue does not retry a job whose failure policy threw', async () => {
    const flowId = await saveUnchecked(graph(['s:start', 'n:needs-field', 'e:end'], [['s', 'n'], ['n', 'e']]), (x) => (x.nodes.n.retry = { attempts: 3, maxBackoffMs: 'x' }));
    let executed = 0;
    registerTestWorker('needs-field', syncWorker(() => {
      executed++;
      throw new Error('always');
    }));
    const { runId } = await startRun(flowId, { input: {} });
    const r = await withRunner(() => waitForRun(runId, { timeoutMs: 20_000 }));
    expect(r.status).toBe('failed');
    expect(executed).toBe(1);
    registerTestWorker('needs-field', syncWorker((input) => {
      if (input.value === undefined) throw new Error('input.value is missing');
      return { picked: input.value };
    }));
  });
});

describe('A.3 arrivals are idempotent per edge', () => {
  it('retrying a continueOnError node does not count its arrival at the join twice', async () => {
    const flow = await createFlow('coe-join', graph(
      ['s:start', { id: 'a', workerType: 'needs-field', continueOnError: true, retry: { attempts: 1 } }, 'b:slow-async', 'x:echo', 'e:end'],
      [['s', 'a'], ['s', 'b'], ['a', 'x'], ['b', 'x'], ['x', 'e']],
    ));
    const { runId } = await startRun(flow.id, { input: {} });
    await withRunner(async () => {
      const first = await eventually(async () => {
        const a = (await getRunWithNodes(runId)).nodes.a;
        return a?.status === 'failed' && a;
      });
      await retryNode(runId, 'a');
      await eventually(async () => {
        const a = (await getRunWithNodes(runId)).nodes.a;
        return a.attempt > first.attempt && a.status === 'failed';
      });
      // x must still wait for b (before the fix it ran at once, arrived 2/2, with only a's error).
      expect((await getRunWithNodes(runId)).nodes.x?.status).toBe('pending');
      const r = await waitForRun(runId, { timeoutMs: 20_000 });
      expect(r.status).toBe('completed');
      expect(r.nodes.x.input).toMatchObject({ b: 'done' });
      expect(r.output).toMatchObject({ b: 'done' });
    });
  });
});

describe('A.5 deadline jobs go with their node', () => {
  it('leaves no deadline or callback job behind for settled async nodes', async () => {
    const flow = await createFlow('waits', graph(['s:start', { id: 'w1', workerType: 'wait', config: { seconds: 0 } }, { id: 'w2', workerType: 'wait', config: { seconds: 0 } }, 'e:end'], [['s', 'w1'], ['w1', 'w2'], ['w2', 'e']]));
    const { runId } = await startRun(flow.id, { input: {} });
    const r = await withRunner(() => waitForRun(runId, { timeoutMs: 20_000 }));
    expect(r.status).toBe('completed');
    expect(await graphileJobsOf(runId)).toBe(0);
  });

  it('a cancelled run takes its nodes\' deadline and scheduled-callback jobs with it', async () => {
    const flow = await createFlow('wait-long', graph(['s:start', { id: 'w', workerType: 'wait', config: { seconds: 3600 } }, 'e:end'], [['s', 'w'], ['w', 'e']]));
    const { runId } = await startRun(flow.id, { input: {} });
    await withRunner(async () => {
      await eventually(async () => (await graphileJobsOf(runId)) === 2 && (await getRunWithNodes(runId)).nodes.w?.status === 'running');
    });
    const { cancelRun } = await import('@/lib/engine/start-run');
    await cancelRun(runId);
    expect(await graphileJobsOf(runId)).toBe(0);
  });
});

describe('A.6 one lock order', () => {
  it('cancels racing the last settles of wide runs never deadlock (no transition needs the SQLSTATE retry)', async () => {
    const before = transientRetryCount();
    registerTestWorker('jitter', syncWorker(async (input) => {
      await new Promise((r) => setTimeout(r, Math.random() * 6));
      return input;
    }));
    // Terminal nodes settle with nothing downstream: each one locks its row, then the run row to
    // finish the run — the opposite of an abort's order before 0006.
    const ids = Array.from({ length: 8 }, (_, k) => `t${k}`);
    const flow = await createFlow('lock-order', graph(['s:start', ...ids.map((id) => `${id}:jitter`)], ids.map((id) => ['s', id] as [string, string])));
    const { cancelRun } = await import('@/lib/engine/start-run');
    await withRunner(async () => {
      for (let round = 0; round < 6; round++) {
        const runs = await Promise.all(Array.from({ length: 10 }, () => startRun(flow.id, { input: {} })));
        await Promise.all(runs.map(async (r) => {
          await new Promise((resolve) => setTimeout(resolve, Math.random() * 25));
          await cancelRun(r.runId).catch(() => undefined);
        }));
        for (const r of runs) expect(['cancelled', 'completed']).toContain((await waitForRun(r.runId, { timeoutMs: 30_000 })).status);
      }
    });
    expect(transientRetryCount() - before).toBe(0);
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFlow, updateFlow } from '@/lib/engine/flows';
import { getPool } from '@/lib/db/pool';
import { getRun } from '@/lib/db/runs';
import { ValidationError } from '@/lib/errors';
import { cancelRun, startRun } from '@/lib/engine/start-run';
import { eventually, graph, registerTestWorker, syncWorker, waitForRun } from '../../../../test/helpers';
import { startTestStitch, type TestStitch } from '../../../../test/db';

let stitch: TestStitch;
/** Calls per `config.key`, across runs: a child flow that fails the first n times it runs. */
const calls = new Map<string, number>();

beforeAll(async () => {
  registerTestWorker('double', syncWorker((input) => ({ ...input, doubled: (input.n ?? 0) * 2 })));
  registerTestWorker(
    'fail-first',
    syncWorker((input, config) => {
      const n = (calls.get(config.key) ?? 0) + 1;
      calls.set(config.key, n);
      if (n <= (config.failTimes ?? Infinity)) throw new Error(`boom #${n}`);
      return { ...input, calls: n };
    }),
    { retry: { attempts: 1, backoffMs: 10, maxBackoffMs: 10 } },
  );
  registerTestWorker('needs-n', syncWorker((input) => input), { input: { n: { type: 'number', required: true, description: 'a number' } } });
  stitch = await startTestStitch();
});
afterAll(() => stitch?.destroy());

const flowNode = (id: string, flowId: string, data: Record<string, unknown> = {}) => ({ id, type: 'flow', config: { flowId }, ...data });

/** A child flow: start (declaring `n`) → double → end. */
async function doublingFlow(name = 'double it') {
  return createFlow(
    name,
    graph(
      [{ id: 's', type: 'start', inputSchema: { n: { type: 'number', required: true, description: 'the number' } } }, 'd:double', 'e:end'],
      [['s', 'd'], ['d', 'e']],
    ),
  );
}

async function childrenOf(runId: string) {
  const { rows } = await getPool().query(
    'SELECT id, status, parent_instance_id, parent_attempt, depth, error FROM stitch_runs WHERE parent_run_id = $1 ORDER BY parent_instance_id, parent_attempt',
    [runId],
  );
  return rows;
}

describe('flow nodes (sub-flows)', () => {
  it("completes with the child run's output; the child is an ordinary run that names its parent", async () => {
    const child = await doublingFlow();
    const parent = await createFlow('parent', graph(['s:start', flowNode('sub', child.id), 'e:end'], [['s', 'sub'], ['sub', 'e']]));
    const { runId } = await startRun(parent.id, { input: { n: 21 } });
    const run = await waitForRun(runId);
    expect(run.status).toBe('completed');
    expect(run.output).toEqual({ n: 21, doubled: 42 });
    const [c] = await childrenOf(runId);
    expect(c).toMatchObject({ status: 'completed', parent_instance_id: 'sub', parent_attempt: 1, depth: 1 });
    expect(run.nodes.sub.metadata.childRunId).toBe(c.id);
    const childRun = await getRun(c.id);
    expect(childRun).toMatchObject({ parentRunId: runId, parentInstanceId: 'sub', flowId: child.id, input: { n: 21 } });
    expect(childRun.trigger).toEqual({ type: 'flow', parentRunId: runId, parentInstanceId: 'sub' });
  });

  it('fails with the child run\'s error, and continueOnError passes {error} on instead', async () => {
    const child = await createFlow('always fails', graph([{ id: 'f', workerType: 'fail-first', config: { key: 'always' } }], []));
    const parent = await createFlow('p-fail', graph(['s:start', flowNode('sub', child.id), 'e:end'], [['s', 'sub'], ['sub', 'e']]));
    const failed = await waitForRun((await startRun(parent.id)).runId);
    expect(failed.status).toBe('failed');
    expect(failed.nodes.sub.status).toBe('failed');
    expect(failed.nodes.sub.error).toMatch(/^Sub-flow run [0-9a-f-]{36} failed: .*boom #1/);
    expect(failed.nodes.e.status).toBe('skipped');

    const tolerant = await createFlow('p-tolerant', graph(['s:start', flowNode('sub', child.id, { continueOnError: true }), 'e:end'], [['s', 'sub'], ['sub', 'e']]));
    const done = await waitForRun((await startRun(tolerant.id)).runId);
    expect(done.status).toBe('completed');
    expect(done.output).toEqual({ error: expect.stringMatching(/boom #2/) });
  });

  it('retries as a new child run when data.retry allows it', async () => {
    const child = await createFlow('flaky child', graph([{ id: 'f', workerType: 'fail-first', config: { key: 'retry', failTimes: 1 } }], []));
    const parent = await createFlow(
      'p-retry',
      graph(['s:start', flowNode('sub', child.id, { retry: { attempts: 2, backoffMs: 10, maxBackoffMs: 10 } }), 'e:end'], [['s', 'sub'], ['sub', 'e']]),
    );
    const run = await waitForRun((await startRun(parent.id, { input: { x: 1 } })).runId);
    expect(run.status).toBe('completed');
    expect(run.output).toEqual({ x: 1, calls: 2 });
    expect(run.nodes.sub.attempt).toBe(2);
    const children = await childrenOf(run.id);
    expect(children.map((c) => [c.parent_attempt, c.status])).toEqual([[1, 'failed'], [2, 'completed']]);
  });

  it('cancelling a parent cancels its children, and theirs', async () => {
    const leaf = await createFlow('waits for a human', graph([{ id: 'gate', type: 'ux', config: { prompt: 'ok?' } }], []));
    const middle = await createFlow('middle', graph([flowNode('inner', leaf.id)], []));
    const top = await createFlow('top', graph(['s:start', flowNode('outer', middle.id), 'e:end'], [['s', 'outer'], ['outer', 'e']]));
    const { runId } = await startRun(top.id);
    const firstChild = (id: string) => eventually(async () => (await childrenOf(id))[0]);
    const mid = await firstChild(runId);
    const low = await firstChild(mid.id);
    await eventually(async () => (await getPool().query(`SELECT 1 FROM stitch_node_runs WHERE run_id = $1 AND status = 'waiting_for_user'`, [low.id])).rows.length > 0);

    await cancelRun(runId);
    expect((await waitForRun(mid.id)).status).toBe('cancelled');
    const lowRun = await waitForRun(low.id);
    expect(lowRun.status).toBe('cancelled');
    expect(lowRun.nodes.gate.status).toBe('cancelled');
    expect((await getRun(runId)).status).toBe('cancelled');
  });


  it('refuses at save a missing flow, a bad reference and a reference cycle at any depth', async () => {
    const missing = '00000000-0000-4000-8000-000000000000';
    await expect(createFlow('dangling', graph([flowNode('sub', missing)], []))).rejects.toMatchObject({
      details: [expect.objectContaining({ code: 'unknown_flow', nodeId: 'sub', field: 'flowId' })],
    });
    await expect(createFlow('bad ref', graph([{ id: 'sub', type: 'flow', config: { flowId: 'nope' } }], []))).rejects.toMatchObject({
      details: [expect.objectContaining({ code: 'invalid_flow_ref', nodeId: 'sub' })],
    });

    const a = await createFlow('A', graph(['x:double'], []));
    const b = await createFlow('B', graph([flowNode('toA', a.id)], []));
    const c = await createFlow('C', graph([flowNode('toB', b.id)], []));
    await expect(updateFlow(a.id, graph(['x:double', flowNode('toC', c.id)], [['x', 'toC']]))).rejects.toSatisfy((error: ValidationError) => {
      const [issue] = error.details as Array<{ code: string; message: string }>;
      return issue.code === 'flow_reference_cycle' && issue.message.includes('A → C → B → A');
    });
    await expect(updateFlow(a.id, graph([flowNode('self', a.id)], []))).rejects.toMatchObject({
      details: [expect.objectContaining({ code: 'flow_reference_cycle' })],
    });
    // A pinned older version of A is immutable: calling it is not a cycle.
    await expect(updateFlow(a.id, graph([flowNode('old', a.id, { config: { flowId: a.id, version: 1 } })], []))).resolves.toMatchObject({ version: 2 });
    await expect(createFlow('pinned', graph([flowNode('v9', a.id, { config: { flowId: a.id, version: 9 } })], []))).rejects.toMatchObject({
      details: [expect.objectContaining({ code: 'unknown_flow_version', field: 'version' })],
    });
  });

  it("type-checks a flow node against the child's start inputSchema and end output", async () => {
    const child = await doublingFlow('typed child');
    await expect(createFlow('no n', graph([{ id: 's', type: 'start', inputSchema: { m: { type: 'number', description: 'm' } } }, flowNode('sub', child.id)], [['s', 'sub']]))).rejects.toMatchObject({
      details: [expect.objectContaining({ code: 'required_input_unreachable', nodeId: 'sub', field: 'n' })],
    });
    // Downstream of the flow node, the child's output fields (n, doubled) are known.
    const ok = await createFlow(
      'uses output',
      graph([{ id: 's', type: 'start', inputSchema: { n: { type: 'number', description: 'n' } } }, flowNode('sub', child.id), 'check:needs-n'], [['s', 'sub'], ['sub', 'check']]),
    );
    expect(ok.warnings).toEqual([]);
    const mapped = graph(
      [{ id: 's', type: 'start', inputSchema: { n: { type: 'number', description: 'n' } } }, flowNode('sub', child.id), 'check:needs-n'],
      [['s', 'sub'], { source: 'sub', target: 'check', data: { mapping: { other: 'doubled' } } }],
    );
    await expect(createFlow('lost n', mapped)).rejects.toMatchObject({
      details: [expect.objectContaining({ code: 'required_input_unreachable', nodeId: 'check', field: 'n' })],
    });
  });

  it('a splitter over a flow node starts one child run per item', async () => {
    const child = await doublingFlow('per item');
    const parent = await createFlow(
      'fan out',
      graph(
        [
          's:start',
          { id: 'items', type: 'splitter', config: { arrayPath: 'numbers', as: 'n' } },
          flowNode('sub', child.id),
          { id: 'all', type: 'collector', config: { field: 'doubled' } },
          'e:end',
        ],
        [['s', 'items'], ['items', 'sub'], ['sub', 'all'], ['all', 'e']],
      ),
    );
    const run = await waitForRun((await startRun(parent.id, { input: { numbers: [1, 2, 3, 4] } })).runId);
    expect(run.status).toBe('completed');
    expect(run.output).toEqual({ all: [2, 4, 6, 8] });
    const children = await childrenOf(run.id);
    expect(children.map((c) => [c.parent_instance_id, c.status])).toEqual([
      ['sub[0]', 'completed'],
      ['sub[1]', 'completed'],
      ['sub[2]', 'completed'],
      ['sub[3]', 'completed'],
    ]);
  });
});

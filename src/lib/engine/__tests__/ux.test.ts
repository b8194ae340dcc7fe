/**
 * UX gates on the real database: park in waiting_for_user with input, prompt and schema visible;
 * answers are validated and merged over the input; deadlines answer by default or fail.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { VisualGraph } from '@/types/stitch';
import { createFlow } from '@/lib/engine/flows';
import { getRunEvents, getRunWithNodes } from '@/lib/db/runs';
import { cancelRun, startRun } from '@/lib/engine/start-run';
import { answerUserTask } from '@/lib/engine/ux-gate';
import { eventually, graph, registerTestWorker, syncWorker, waitForRun } from '../../../../test/helpers';
import { startTestStitch, type TestStitch } from '../../../../test/db';

let stitch: TestStitch;

beforeAll(async () => {
  registerTestWorker('echo', syncWorker((input, _config, { nodeId }) => ({ ...input, [`seen_${nodeId}`]: true })));
  stitch = await startTestStitch();
});
afterAll(() => stitch?.destroy());

const approval = {
  prompt: 'Approve the script?',
  inputSchema: {
    approved: { type: 'boolean', required: true, description: 'Go ahead?' },
    note: { type: 'string', description: 'Why', default: 'none' },
  },
};

async function start(g: VisualGraph, input: unknown) {
  const flow = await createFlow('ux', g);
  return (await startRun(flow.id, { input })).runId;
}

async function waitingGate(runId: string, instanceId: string) {
  return eventually(async () => {
    const r = await getRunWithNodes(runId);
    return r.nodes[instanceId]?.status === 'waiting_for_user' ? r : undefined;
  });
}

describe('UX gates', () => {
  it('parks with its input, prompt and schema visible, then completes with the answer merged over its input', async () => {
    const runId = await start(graph(['draft', { id: 'gate', type: 'ux', config: approval }, 'publish'], [['draft', 'gate'], ['gate', 'publish']]), { script: 'A fox' });
    const waiting = await waitingGate(runId, 'gate');
    expect(waiting.status).toBe('running');
    expect(waiting.nodes.gate.input).toEqual({ script: 'A fox', seen_draft: true });
    expect(waiting.nodes.gate.metadata).toMatchObject({ prompt: 'Approve the script?', inputSchema: approval.inputSchema });
    expect(waiting.nodes.publish).toBeUndefined();
    // The run status says it waits on a human.
    expect(waiting.waitingFor).toEqual([
      { instanceId: 'gate', prompt: 'Approve the script?', inputSchema: approval.inputSchema, input: { script: 'A fox', seen_draft: true }, deadlineAt: null },
    ]);
    const events = await getRunEvents(runId);
    expect(events.find((e) => e.type === 'node:waiting')).toMatchObject({ instanceId: 'gate', payload: { prompt: 'Approve the script?' } });

    // Invalid answers change nothing.
    await expect(answerUserTask(runId, 'gate', { approved: 'yes' })).rejects.toMatchObject({ code: 'validation_failed', message: expect.stringContaining('Field approved must be boolean') });
    await expect(answerUserTask(runId, 'gate', {})).rejects.toMatchObject({ code: 'validation_failed', message: expect.stringContaining('Missing required field: approved') });
    await expect(answerUserTask(runId, 'gate', [1])).rejects.toMatchObject({ code: 'validation_failed' });
    await expect(answerUserTask(runId, 'nope', { approved: true })).rejects.toMatchObject({ code: 'not_found' });
    await expect(answerUserTask(runId, 'draft', { approved: true })).rejects.toMatchObject({ code: 'conflict' });
    await expect(answerUserTask('not-a-uuid', 'gate', { approved: true })).rejects.toMatchObject({ code: 'not_found' });

    await answerUserTask(runId, 'gate', { approved: true });
    const r = await waitForRun(runId);
    expect(r.status).toBe('completed');
    expect(r.nodes.gate.output).toEqual({ script: 'A fox', seen_draft: true, approved: true, note: 'none' });
    expect(r.nodes.gate.metadata).toMatchObject({ answeredBy: 'user' });
    expect(r.nodes.publish.input).toEqual({ script: 'A fox', seen_draft: true, approved: true, note: 'none' });
    // Answering twice is a conflict.
    await expect(answerUserTask(runId, 'gate', { approved: false })).rejects.toMatchObject({ code: 'conflict' });
  });

  it('completes with config.defaultAnswer when its deadline passes', async () => {
    const gate = { id: 'gate', type: 'ux', config: { ...approval, timeoutSeconds: 0.3, defaultAnswer: { approved: false } } };
    const runId = await start(graph([gate, 'after'], [['gate', 'after']]), { script: 'B' });
    const waiting = await waitingGate(runId, 'gate');
    expect(waiting.waitingFor[0].deadlineAt).not.toBeNull();
    const r = await waitForRun(runId);
    expect(r.status).toBe('completed');
    expect(r.nodes.gate.output).toEqual({ script: 'B', approved: false, note: 'none' });
    expect(r.nodes.gate.metadata).toMatchObject({ answeredBy: 'default' });
    await expect(answerUserTask(runId, 'gate', { approved: true })).rejects.toMatchObject({ code: 'conflict' });
  });

  it('fails when its deadline passes without a default answer, naming the gate', async () => {
    const gate = { id: 'gate', type: 'ux', label: 'Final review', config: { timeoutSeconds: 0.3 } };
    const runId = await start(graph([gate, 'after'], [['gate', 'after']]), {});
    const r = await waitForRun(runId);
    expect(r.status).toBe('failed');
    expect(r.nodes.gate.status).toBe('failed');
    expect(r.nodes.gate.error).toBe('No answer to UX gate "Final review" within 0.3s, and it has no defaultAnswer');
    expect(r.nodes.after.status).toBe('skipped');
  });

  it('waits once per item inside a splitter; each item instance is answered on its own', async () => {
    const g = graph(
      [{ id: 'split', type: 'splitter' }, { id: 'gate', type: 'ux', config: { prompt: 'Caption?' } }, { id: 'c', type: 'collector', config: { field: 'caption' } }],
      [['split', 'gate'], ['gate', 'c']],
    );
    const runId = await start(g, [{ img: 'a.png' }, { img: 'b.png' }]);
    await waitingGate(runId, 'gate[0]');
    await waitingGate(runId, 'gate[1]');
    expect((await getRunWithNodes(runId)).waitingFor.map((w) => w.instanceId)).toEqual(['gate[0]', 'gate[1]']);
    await answerUserTask(runId, 'gate[1]', { caption: 'second' });
    await answerUserTask(runId, 'gate[0]', { caption: 'first' });
    const r = await waitForRun(runId);
    expect(r.nodes.c.output).toEqual(['first', 'second']);
  });

  it('refuses answers after the run was cancelled', async () => {
    const runId = await start(graph([{ id: 'gate', type: 'ux' }], []), {});
    await waitingGate(runId, 'gate');
    await cancelRun(runId);
    await expect(answerUserTask(runId, 'gate', {})).rejects.toMatchObject({ code: 'conflict' });
    expect((await getRunWithNodes(runId)).nodes.gate.status).toBe('cancelled');
  });
});

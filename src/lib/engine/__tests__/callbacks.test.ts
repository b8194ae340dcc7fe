import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NodeConfig } from '@/types/stitch';
import { createFlow } from '@/lib/engine/flows';
import { getRunWithNodes, updateNodeState } from '@/lib/db/runs';
import { completeNode } from '@/lib/engine/complete-node';
import { startRun } from '@/lib/engine/start-run';
import { buildCallbackUrl } from '@/lib/workers/utils';
import type { IWorker, PollResult } from '@/lib/workers/base';
import { eventually, graph, registerTestWorker, syncWorker, waitForRun } from '../../../../test/helpers';
import { startTestStitch, type TestStitch } from '../../../../test/db';

let stitch: TestStitch;
/** Callback URLs handed to the "vendor", by `${runId}/${nodeId}`. */
const handedOut = new Map<string, string>();
const pollAnswers = new Map<string, PollResult>();

class VendorAsyncWorker implements IWorker {
  async execute(runId: string, nodeId: string, _config: NodeConfig, input: unknown) {
    handedOut.set(`${runId}/${nodeId}`, buildCallbackUrl(runId, nodeId));
    await updateNodeState(runId, nodeId, { status: 'running', output: input });
  }
}
class PollingWorker extends VendorAsyncWorker {
  async poll(runId: string, nodeId: string, _config: NodeConfig, stored: unknown): Promise<PollResult> {
    const answer = pollAnswers.get(`${runId}/${nodeId}`) ?? { status: 'running' };
    if (answer.status === 'completed') return { ...answer, output: { ...(answer.output as object), storedWas: stored } };
    return answer;
  }
}

function tokenOf(url: string): string {
  return new URL(url).searchParams.get('token')!;
}

async function startAsyncRun(type: string, extra: Record<string, unknown> = {}) {
  const flow = await createFlow(type, graph([{ id: 'v', workerType: type, ...extra }, 'after'], [['v', 'after']]));
  const { runId } = await startRun(flow.id, { input: { prompt: 'a fox', keep: 1 } });
  const url = await eventually(async () => handedOut.get(`${runId}/v`));
  await eventually(async () => (await getRunWithNodes(runId)).nodes.v.output !== null);
  return { runId, url, token: tokenOf(url) };
}

beforeAll(async () => {
  registerTestWorker('echo', syncWorker((input) => input));
  registerTestWorker('vendor', VendorAsyncWorker, { type: 'async', retry: { attempts: 1 } });
  registerTestWorker('polling', PollingWorker, { type: 'async', retry: { attempts: 1 }, timeoutSeconds: 1 });
  registerTestWorker('deadline', VendorAsyncWorker, { type: 'async', retry: { attempts: 2, backoffMs: 10, maxBackoffMs: 10 }, timeoutSeconds: 1 });
  stitch = await startTestStitch();
});
afterAll(() => stitch?.destroy());

describe('async callbacks', () => {
  it('completes through the signed callback URL, merging the callback output over the stored input', async () => {
    const { runId, url, token } = await startAsyncRun('vendor');
    expect(url).toMatch(new RegExp(`/api/stitch/callback/${runId}/v\\?token=1\\.\\d+\\.[\\w-]{43}$`));
    expect(await completeNode({ runId, instanceId: 'v', token, status: 'completed', output: { videoUrl: 'https://x/v.mp4' } })).toEqual({ ok: true });
    const r = await waitForRun(runId);
    expect(r.status).toBe('completed');
    expect(r.nodes.v.output).toEqual({ prompt: 'a fox', keep: 1, videoUrl: 'https://x/v.mp4' });
    expect(r.nodes.after.input).toEqual({ prompt: 'a fox', keep: 1, videoUrl: 'https://x/v.mp4' });
  });

  it('answers an identical duplicate as a duplicate and refuses a different late one, changing nothing', async () => {
    const { runId, token } = await startAsyncRun('vendor');
    const body = { status: 'completed' as const, output: { videoUrl: 'u1' } };
    await completeNode({ runId, instanceId: 'v', token, ...body });
    await waitForRun(runId);
    const before = await getRunWithNodes(runId);
    expect(await completeNode({ runId, instanceId: 'v', token, ...body })).toEqual({ ok: true, duplicate: true });
    await expect(completeNode({ runId, instanceId: 'v', token, status: 'completed', output: { videoUrl: 'u2' } })).rejects.toMatchObject({ code: 'conflict' });
    await expect(completeNode({ runId, instanceId: 'v', token, status: 'failed', error: 'late' })).rejects.toMatchObject({ code: 'conflict' });
    expect(await getRunWithNodes(runId)).toEqual(before);
  });

  it('rejects forged, foreign and malformed tokens without any change', async () => {
    const { runId, token } = await startAsyncRun('vendor');
    const other = await startAsyncRun('vendor');
    const before = await getRunWithNodes(runId);
    const forged = token.slice(0, -4) + (token.endsWith('AAAA') ? 'BBBB' : 'AAAA');
    for (const bad of [forged, other.token, 'garbage', '', `2.${token.split('.')[1]}.${token.split('.')[2]}`]) {
      await expect(completeNode({ runId, instanceId: 'v', token: bad, status: 'completed', output: { hacked: true } })).rejects.toMatchObject({ code: 'unauthorized' });
    }
    // A token for this run's node replayed for another node of the same run.
    await expect(completeNode({ runId, instanceId: 'after', token, status: 'completed', output: {} })).rejects.toMatchObject({ code: 'unauthorized' });
    expect(await getRunWithNodes(runId)).toEqual(before);
  });

  it('a failed vendor callback fails the attempt (and the run, with attempts exhausted)', async () => {
    const { runId, token } = await startAsyncRun('vendor');
    await completeNode({ runId, instanceId: 'v', token, status: 'failed', error: 'vendor says no' });
    const r = await waitForRun(runId);
    expect(r.status).toBe('failed');
    expect(r.nodes.v.error).toBe('vendor says no');
    expect(r.nodes.after.status).toBe('skipped');
  });
});

describe('callback deadlines', () => {
  it('polls the vendor when the deadline passes and completes from the poll', async () => {
    const flow = await createFlow('poll', graph(['v:polling'], []));
    const { runId } = await startRun(flow.id, { input: { prompt: 'p' } });
    // First deadline: the vendor is still working, so the deadline moves; then it is done.
    await eventually(async () => handedOut.get(`${runId}/v`));
    pollAnswers.set(`${runId}/v`, { status: 'running', extendSeconds: 1 });
    await new Promise((r) => setTimeout(r, 1500));
    expect((await getRunWithNodes(runId)).status).toBe('running');
    pollAnswers.set(`${runId}/v`, { status: 'completed', output: { videoUrl: 'polled.mp4' } });
    const r = await waitForRun(runId);
    expect(r.status).toBe('completed');
    expect(r.nodes.v.output).toEqual({ prompt: 'p', videoUrl: 'polled.mp4', storedWas: { prompt: 'p' } });
  });

  it('without poll, a missed deadline fails the attempt, is retried, and finally fails naming the deadline', async () => {
    const flow = await createFlow('deadline', graph(['v:deadline'], []));
    const { runId } = await startRun(flow.id, { input: {} });
    const r = await waitForRun(runId);
    expect(r.status).toBe('failed');
    expect(r.nodes.v.attempt).toBe(2);
    expect(r.error).toMatch(/No callback arrived within the 1s callback deadline/);
    // The first attempt's URL is dead now.
    const url = handedOut.get(`${runId}/v`)!;
    await expect(completeNode({ runId, instanceId: 'v', token: tokenOf(url), status: 'completed', output: {} })).rejects.toMatchObject({ code: 'conflict' });
  });
});

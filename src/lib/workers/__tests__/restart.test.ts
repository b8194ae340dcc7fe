/**
 * A restart in the middle of an async mock loses nothing: the mock's completion is a scheduled
 * queue job in PostgreSQL, so a Stitch stopped while MiniMax and Shotstack mocks are pending and
 * started again on the same database finishes the run.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createFlow } from '@/lib/engine/flows';
import { getRunWithNodes } from '@/lib/db/runs';
import { startRun } from '@/lib/engine/start-run';
import { startStitch, type StitchInstance } from '@/lib/stitch';
import { eventually, graph, waitForRun } from '../../../../test/helpers';
import { startTestStitch, type TestStitch } from '../../../../test/db';
import { mockEnv, setEnv, tempDataDir } from '../../../../test/vendors/env';

let first: TestStitch;
let second: StitchInstance | undefined;
let restore: () => void;

beforeAll(async () => {
  const env = { ...mockEnv(), STITCH_DATA_DIR: tempDataDir() };
  restore = setEnv(env);
  first = await startTestStitch({ env });
});
afterAll(async () => {
  await second?.stop();
  await first?.destroy();
  restore?.();
});

it('stops with an async mock pending, starts again on the same database, and the run completes', async () => {
  const flow = await createFlow(
    'restart',
    graph([{ id: 'm', workerType: 'minimax', config: { mockDelaySeconds: 2 } }, { id: 'after', workerType: 'transform', config: { set: { done: { value: true } } } }], [['m', 'after']]),
  );
  const { runId } = await startRun(flow.id, { input: { visual_prompt: 'a lighthouse at dusk' } });
  // The mock has submitted: the node is running with its task id stored, its completion scheduled.
  await eventually(async () => {
    const m = (await getRunWithNodes(runId)).nodes.m;
    return m?.status === 'running' && (m.output as { minimaxTaskId?: string } | null)?.minimaxTaskId;
  });
  const config = first.config;
  await first.stop();
  second = await startStitch({ config, pollIntervalMs: 200 });
  const r = await waitForRun(runId, { timeoutMs: 30_000 });
  expect(r.status).toBe('completed');
  expect(r.nodes.m.output).toMatchObject({ visual_prompt: 'a lighthouse at dusk', videoUrl: expect.stringMatching(/\/files\/mock\/scene-\d\.mp4$/) });
  expect(r.output).toMatchObject({ done: true, videoUrl: expect.any(String) });
});

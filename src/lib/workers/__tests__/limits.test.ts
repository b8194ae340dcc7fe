/**
 * Per-integration limits across processes: with `minimax` limited to 2 jobs in flight, 10 scenes
 * split over two Stitch processes (this one with the HTTP server, a second OS process running a
 * queue runner) never have more than 2 tasks submitted-and-unfinished at the fake MiniMax, nodes
 * over the limit wait visibly throttled, and the run completes. Plus the requests-per-interval limit.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFlow } from '@/lib/engine/flows';
import { getRunEvents } from '@/lib/db/runs';
import { getPool } from '@/lib/db/pool';
import { startRun } from '@/lib/engine/start-run';
import { limitFor } from '@/lib/workers/limits';
import { spawnTsx, type SpawnedProcess } from '../../../../test/processes';
import { graph, waitForRun } from '../../../../test/helpers';
import { startTestServer, type TestServer } from '../../../../test/server/http';
import { mockEnv, setEnv, tempDataDir } from '../../../../test/vendors/env';
import { MINIMAX_KEY, startFakeMiniMax, type FakeMiniMax } from '../../../../test/vendors/minimax';

let server: TestServer;
let minimax: FakeMiniMax;
let second: SpawnedProcess | undefined;
let restore: () => void;

beforeAll(async () => {
  minimax = await startFakeMiniMax();
  minimax.autoFinishAfterMs = 300;
  const env = {
    ...mockEnv(),
    STITCH_DATA_DIR: tempDataDir(),
    MINIMAX_API_KEY: MINIMAX_KEY,
    MINIMAX_API_URL: minimax.url,
    STITCH_LIMIT_MINIMAX_MAX_IN_FLIGHT: '2',
    STITCH_LIMITS: JSON.stringify({ claude: { maxRequests: 3, intervalSeconds: 2 } }),
  };
  restore = setEnv(env);
  server = await startTestServer({ env });
  setEnv({ STITCH_BASE_URL: server.url });
  // node itself, not npx: a signal sent to npx does not reach the node process under it.
  second = spawnTsx('test/vendors/runner-process.ts', {
    ...env,
    DATABASE_URL: server.stitch.url,
    STITCH_SECRET: 'test-secret-0123456789',
    STITCH_BASE_URL: server.url,
    STITCH_LOG_LEVEL: 'info',
  });
  await second.ready;
});

afterAll(async () => {
  if (second && second.child.exitCode === null) {
    second.child.kill('SIGTERM');
    await second.exited;
  }
  await server?.close();
  await minimax?.close();
  restore?.();
});

describe('integration limits', () => {
  it('reads limits from defaults, STITCH_LIMITS and STITCH_LIMIT_<TYPE>_*', () => {
    expect(limitFor('minimax')).toEqual({ maxInFlight: 2, maxRequests: 0, intervalSeconds: 60 });
    expect(limitFor('claude')).toEqual({ maxInFlight: 0, maxRequests: 3, intervalSeconds: 2 });
    expect(limitFor('elevenlabs')).toMatchObject({ maxInFlight: 3 });
    expect(limitFor('transform')).toBeUndefined();
  });

  it('never has more than 2 MiniMax tasks unfinished across two processes, throttles visibly, and completes', async () => {
    const scenes = Array.from({ length: 10 }, (_, i) => ({ visual_prompt: `limited scene ${i}` }));
    const flow = await createFlow('limits', graph([{ id: 'each', type: 'splitter', config: { arrayPath: 'scenes' } }, { id: 'm', workerType: 'minimax' }, { id: 'c', type: 'collector' }], [['each', 'm'], ['m', 'c']]));
    const { runId } = await startRun(flow.id, { input: { scenes } });
    const r = await waitForRun(runId, { timeoutMs: 60_000 });
    expect(r.status).toBe('completed');
    const submitted = [...minimax.tasks.values()].filter((t) => t.prompt.startsWith('limited scene'));
    expect(submitted).toHaveLength(10);
    expect(minimax.maxUnfinished).toBeLessThanOrEqual(2);
    expect(minimax.maxUnfinished).toBe(2);
    // The collector gives the results in item order, each with its own task's video.
    const results = r.output as Array<{ visual_prompt: string; videoUrl: string }>;
    expect(results.map((x) => x.visual_prompt)).toEqual(scenes.map((s) => s.visual_prompt));
    for (const x of results) {
      const task = submitted.find((t) => t.prompt === x.visual_prompt)!;
      expect(x.videoUrl).toBe(`${minimax.url}/download/f${task.taskId}.mp4`);
    }
    const throttled = (await getRunEvents(runId)).filter((e) => e.type === 'node:pending' && e.payload.throttled === true);
    expect(throttled.length).toBeGreaterThan(0);
    expect(throttled[0].payload.reason).toMatch(/of 2 minimax jobs in flight/);
    // Both processes did MiniMax work: the second one logs each submission and each poll it ran
    // (which of the two submits depends on which polls the queue first, so either counts).
    expect(second!.output()).toMatch(/MiniMax task (submitted|polled)/);
    const { rows } = await getPool().query(`SELECT count(*)::int AS n FROM stitch_node_runs WHERE run_id = $1 AND metadata ->> 'throttled' = 'true'`, [runId]);
    expect(rows[0].n).toBe(0); // throttled nodes were cleared when they got their slot
  });

  it('limits requests per interval without failing: 6 claude calls at 3 per 2 s all complete', async () => {
    const flow = await createFlow('rate', graph([{ id: 'each', type: 'splitter', config: { arrayPath: 'items' } }, { id: 'c', workerType: 'claude', config: { prompt: 'hi {{n}}' } }, { id: 'k', type: 'collector' }], [['each', 'c'], ['c', 'k']]));
    const { runId } = await startRun(flow.id, { input: { items: Array.from({ length: 6 }, (_, n) => ({ n })) } });
    const r = await waitForRun(runId, { timeoutMs: 60_000 });
    expect(r.status).toBe('completed');
    const throttled = (await getRunEvents(runId)).filter((e) => e.type === 'node:pending' && e.payload.throttled === true);
    expect(throttled.length).toBeGreaterThan(0);
    expect(throttled[0].payload.reason).toMatch(/claude requests in the last 2s/);
  });
});

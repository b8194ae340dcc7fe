/**
 * Usage and cost: each built-in worker reports what its vendor bills, read from fake vendors on
 * loopback that answer in the vendors' own formats (Anthropic `usage`, ElevenLabs `character-cost`);
 * mocks report what the real call would have used, flagged; the engine prices and records usage
 * per attempt, the run view shows node `usage`/`costUsd` and run `cost`; STITCH_PRICES overrides.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFlow } from '@/lib/engine/flows';
import { getRunWithNodes } from '@/lib/db/runs';
import { startRun } from '@/lib/engine/start-run';
import { runWorker } from '@/lib/workers/testing';
import { ClaudeWorker, ElevenLabsWorker, MiniMaxWorker, ShotstackWorker } from '@/lib/workers';
import { reportUsage } from '@/lib/workers/utils';
import { priceOf, priceTable } from '../prices';
import { withReuseAndCost } from '../run-cost';
import { graph, registerTestWorker, waitForRun } from '../../../../test/helpers';
import { startTestStitch, type TestStitch } from '../../../../test/db';
import { tempDataDir } from '../../../../test/vendors/env';
import { ANTHROPIC_KEY, startFakeAnthropic, type FakeAnthropic } from '../../../../test/vendors/anthropic';
import { ELEVENLABS_KEY, startFakeElevenLabs, type FakeElevenLabs } from '../../../../test/vendors/elevenlabs';
import { MINIMAX_KEY, startFakeMiniMax, type FakeMiniMax } from '../../../../test/vendors/minimax';
import { SHOTSTACK_KEY, startFakeShotstack, type FakeShotstack } from '../../../../test/vendors/shotstack';

let stitch: TestStitch;
let anthropic: FakeAnthropic;
let elevenlabs: FakeElevenLabs;
let minimax: FakeMiniMax;
let shotstack: FakeShotstack;
const dataDir = tempDataDir();

beforeAll(async () => {
  [anthropic, elevenlabs, minimax, shotstack] = await Promise.all([startFakeAnthropic(), startFakeElevenLabs(), startFakeMiniMax(), startFakeShotstack()]);
  registerTestWorker(
    'metered',
    class {
      async execute(runId: string, nodeId: string, config: { tokens?: number }, input: unknown) {
        const { triggerCallback } = await import('@/lib/workers/utils');
        await reportUsage(runId, nodeId, [{ unit: 'input_tokens', quantity: config.tokens ?? 1000 }, { unit: 'output_tokens', quantity: 10 }]);
        await triggerCallback(runId, nodeId, { status: 'completed', output: input });
      }
    },
  );
  stitch = await startTestStitch({ env: { STITCH_DATA_DIR: dataDir } });
});
afterAll(async () => {
  await stitch?.destroy();
  await Promise.all([anthropic, elevenlabs, minimax, shotstack].map((f) => f?.close()));
});

describe('built-in workers report what the vendor bills', () => {
  it('claude: input_tokens and output_tokens from the API response usage', async () => {
    const run = await runWorker(ClaudeWorker, {
      definition: 'claude',
      env: { ANTHROPIC_API_KEY: ANTHROPIC_KEY, ANTHROPIC_API_URL: anthropic.url, STITCH_DATA_DIR: dataDir },
      config: { prompt: 'Tell me about otters' },
    });
    expect(run.status).toBe('completed');
    expect(run.usage).toEqual([
      { unit: 'input_tokens', quantity: 12, mock: false },
      { unit: 'output_tokens', quantity: 6, mock: false },
    ]);
  });

  it('elevenlabs: characters from the character-cost header', async () => {
    elevenlabs.characterCost = 7;
    try {
      const run = await runWorker(ElevenLabsWorker, {
        definition: 'elevenlabs',
        env: { ELEVENLABS_API_KEY: ELEVENLABS_KEY, ELEVENLABS_API_URL: elevenlabs.url, STITCH_DATA_DIR: dataDir },
        input: { voice_text: 'Hello otters!' },
      });
      expect(run.status).toBe('completed');
      expect(run.usage).toEqual([{ unit: 'characters', quantity: 7, mock: false }]);
    } finally {
      elevenlabs.characterCost = undefined;
    }
  });

  it('minimax: video_seconds of the accepted task', async () => {
    const run = await runWorker(MiniMaxWorker, {
      definition: 'minimax',
      env: { MINIMAX_API_KEY: MINIMAX_KEY, MINIMAX_API_URL: minimax.url, STITCH_DATA_DIR: dataDir, STITCH_BASE_URL: 'http://127.0.0.1:9' },
      input: { visual_prompt: 'otters at dawn' },
      config: { duration: 10 },
    });
    expect(run.status).toBe('running');
    expect(run.usage).toEqual([{ unit: 'video_seconds', quantity: 10, mock: false }]);
  });

  it('shotstack: render_seconds of the timeline', async () => {
    const run = await runWorker(ShotstackWorker, {
      definition: 'shotstack',
      env: { SHOTSTACK_API_KEY: SHOTSTACK_KEY, SHOTSTACK_API_URL: shotstack.url, STITCH_DATA_DIR: dataDir, STITCH_BASE_URL: 'http://127.0.0.1:9' },
      input: { scenes: [{ videoUrl: 'https://cdn.example/a.mp4', duration: 6 }, { videoUrl: 'https://cdn.example/b.mp4', duration: 4 }] },
    });
    expect(run.status).toBe('running');
    expect(run.usage).toEqual([{ unit: 'render_seconds', quantity: 10, mock: false }]);
  });

  it('mock mode reports what the real call would have used, marked mock', async () => {
    const noKeys = { ANTHROPIC_API_KEY: '', ELEVENLABS_API_KEY: '', MINIMAX_API_KEY: '', SHOTSTACK_API_KEY: '', STITCH_DATA_DIR: dataDir };
    const claude = await runWorker(ClaudeWorker, { definition: 'claude', env: noKeys, input: { prompt: 'abcdefgh' } });
    expect(claude.usage.map((u) => [u.unit, u.mock])).toEqual([['input_tokens', true], ['output_tokens', true]]);
    expect(claude.usage[0].quantity).toBe(2);
    const voice = await runWorker(ElevenLabsWorker, { definition: 'elevenlabs', env: noKeys, input: { voice_text: 'Hello otters!' } });
    expect(voice.usage).toEqual([{ unit: 'characters', quantity: 13, mock: true }]);
    const video = await runWorker(MiniMaxWorker, { definition: 'minimax', env: noKeys, input: { visual_prompt: 'otters' } });
    expect(video.usage).toEqual([{ unit: 'video_seconds', quantity: 6, mock: true }]);
    const render = await runWorker(ShotstackWorker, { definition: 'shotstack', env: noKeys, input: { scenes: [{ videoUrl: 'x', duration: 5 }] } });
    expect(render.usage).toEqual([{ unit: 'render_seconds', quantity: 5, mock: true }]);
  });
});

describe('pricing and the run view', () => {
  it('prices reported usage per node and sums the run', async () => {
    const flow = await createFlow('metered', graph([{ id: 'a', workerType: 'metered', config: { tokens: 1000 } }, { id: 'b', workerType: 'metered', config: { tokens: 2000 } }], [['a', 'b']]));
    const { runId } = await startRun(flow.id, { input: {} });
    await waitForRun(runId);
    const view = await withReuseAndCost(await getRunWithNodes(runId));
    // 'metered' has no price: recorded, costs 0.
    expect(view.nodes.a.usage).toEqual([{ unit: 'input_tokens', quantity: 1000, usd: 0 }, { unit: 'output_tokens', quantity: 10, usd: 0 }]);
    expect(view.cost).toEqual({ usd: 0, savedUsd: 0 });
  });

  it('prices claude usage from the table, and STITCH_PRICES overrides it', async () => {
    expect(priceOf('claude', 'input_tokens', 1_000_000)).toBeCloseTo(3, 6);
    expect(priceTable().claude.source).toMatch(/^https:\/\/www\.anthropic\.com\//);
    const dir = mkdtempSync(path.join(tmpdir(), 'stitch-prices-'));
    const file = path.join(dir, 'prices.json');
    writeFileSync(file, JSON.stringify({ metered: { units: { input_tokens: 0.001 } }, claude: { units: { output_tokens: 1 } } }));
    const previous = process.env.STITCH_PRICES;
    process.env.STITCH_PRICES = file;
    try {
      expect(priceOf('claude', 'output_tokens', 2)).toBe(2);
      expect(priceOf('claude', 'input_tokens', 1_000_000)).toBeCloseTo(3, 6); // the rest of the entry stays
      const flow = await createFlow('metered-priced', graph([{ id: 'a', workerType: 'metered', config: { tokens: 1500 } }], []));
      const { runId } = await startRun(flow.id, { input: {} });
      await waitForRun(runId);
      const view = await withReuseAndCost(await getRunWithNodes(runId));
      expect(view.nodes.a.costUsd).toBeCloseTo(1.5, 8);
      expect(view.cost.usd).toBeCloseTo(1.5, 8);
    } finally {
      if (previous === undefined) delete process.env.STITCH_PRICES;
      else process.env.STITCH_PRICES = previous;
    }
  });

  it('refuses malformed usage with a precise message', async () => {
    await expect(reportUsage('00000000-0000-0000-0000-000000000000', 'a', [{ unit: 'Tokens!', quantity: 1 }])).rejects.toThrow(/snake_case/);
    await expect(reportUsage('00000000-0000-0000-0000-000000000000', 'a', [{ unit: 'tokens', quantity: -1 }])).rejects.toThrow(/non-negative/);
  });
});

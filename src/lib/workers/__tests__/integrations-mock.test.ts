/**
 * Mock mode, end to end through the real HTTP server: every vendor worker runs without its key,
 * produces realistic outputs whose URLs resolve (served from storage at /files), async mocks finish
 * through scheduled queue jobs, and the demo flow (examples/video-factory.json) completes.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFlow } from '@/lib/engine/flows';
import { startRun } from '@/lib/engine/start-run';
import { runWorker } from '@/lib/workers/testing';
import type { WorkerClass } from '@/lib/workers/base';
import { ClaudeWorker, ElevenLabsWorker, MiniMaxWorker, ShotstackWorker } from '@/lib/workers';
import { graph, waitForRun } from '../../../../test/helpers';
import { startTestServer, type TestServer } from '../../../../test/server/http';
import { mockEnv, setEnv, tempDataDir } from '../../../../test/vendors/env';

let server: TestServer;
let restore: () => void;
const dataDir = tempDataDir();

beforeAll(async () => {
  const env = { ...mockEnv(), STITCH_DATA_DIR: dataDir };
  restore = setEnv(env);
  server = await startTestServer({ env });
  setEnv({ STITCH_BASE_URL: server.url });
});
afterAll(async () => {
  await server?.close();
  restore?.();
});

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- node outputs are free-form JSON
async function runFlow(g: ReturnType<typeof graph>, input: unknown): Promise<any> {
  const flow = await createFlow(`mock-${Math.random()}`, g);
  const { runId } = await startRun(flow.id, { input });
  return waitForRun(runId, { timeoutMs: 45_000 });
}

/** Fetch a media URL the way a browser would; returns the bytes. */
async function fetchMedia(url: string, type: RegExp): Promise<Buffer> {
  expect(url.startsWith(`${server.url}/files/`)).toBe(true);
  const response = await fetch(url);
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toMatch(type);
  return Buffer.from(await response.arrayBuffer());
}

describe('mock mode', () => {
  it('claude answers a scene prompt with a script that scene-parser turns into minimax/elevenlabs fields', async () => {
    const r = await runFlow(
      graph([{ id: 'c', workerType: 'claude', config: { prompt: 'Write a 4-scene script about {{topic}}', mockScenes: 4 } }, { id: 'p', workerType: 'scene-parser' }], [['c', 'p']]),
      { topic: 'volcanoes' },
    );
    expect(r.status).toBe('completed');
    expect(r.nodes.c.output.text).toContain('volcanoes');
    expect(r.nodes.c.metadata.usage).toEqual({ inputTokens: expect.any(Number), outputTokens: expect.any(Number) });
    expect(r.nodes.p.output.scenes).toHaveLength(4);
    for (const scene of r.nodes.p.output.scenes) {
      expect(scene).toEqual({ visual_prompt: expect.stringContaining('volcanoes'), voice_text: expect.any(String), duration: 6 });
    }
    expect(r.nodes.p.output.topic).toBe('volcanoes');
  });

  it('claude streams its canned answer a few words at a time over mockStreamSeconds; usage as without streaming', async () => {
    const run = await runWorker(ClaudeWorker, { definition: 'claude', input: { prompt: 'Write about foxes' }, config: { mockStreamSeconds: 0.2 }, env: mockEnv() });
    expect(run.status).toBe('completed');
    const text = (run.output as { text: string }).text;
    expect(run.streamedText).toBe(text);
    expect(run.streamed.length).toBeGreaterThan(5);
    expect(run.streamed.every((c) => typeof c === 'string' && c.trim().split(/\s+/).length <= 3)).toBe(true);
    expect(run.usage).toEqual([
      { unit: 'input_tokens', quantity: Math.ceil('Write about foxes'.length / 4), mock: true },
      { unit: 'output_tokens', quantity: Math.ceil(text.length / 4), mock: true },
    ]);
  });

  it('elevenlabs stores a WAV whose length follows the text, at a URL that resolves', async () => {
    const text = 'one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen';
    const r = await runFlow(graph([{ id: 'v', workerType: 'elevenlabs' }], []), { voice_text: text, keep: 'me' });
    expect(r.status).toBe('completed');
    const out = r.nodes.v.output;
    expect(out).toMatchObject({ keep: 'me', voice_text: text, audioDuration: 6, audioFormat: 'wav_16000' });
    const wav = await fetchMedia(out.audioUrl, /audio\/(wav|x-wav|wave)/);
    expect(wav.subarray(0, 4).toString()).toBe('RIFF');
    expect(wav.readUInt32LE(40) / (16_000 * 2)).toBeCloseTo(6, 1); // data bytes / byte rate = seconds
    const short = await runFlow(graph([{ id: 'v', workerType: 'elevenlabs' }], []), { voiceText: 'Hello there.' });
    expect(short.nodes.v.output.audioDuration).toBe(1);
  });

  it('minimax completes through a scheduled job with a playable sample clip', async () => {
    const r = await runFlow(graph([{ id: 'm', workerType: 'minimax', config: { mockDelaySeconds: 1 } }], []), { visualPrompt: 'a red fox in snow', n: 1 });
    expect(r.status).toBe('completed');
    expect(r.nodes.m.output).toMatchObject({ visualPrompt: 'a red fox in snow', n: 1, minimaxTaskId: expect.stringMatching(/^mock-/), videoDuration: 6 });
    const mp4 = await fetchMedia(r.nodes.m.output.videoUrl, /video\/mp4/);
    expect(mp4.subarray(4, 8).toString()).toBe('ftyp');
  });

  it('shotstack renders scenes back to back and links a playable video', async () => {
    const scenes = [
      { videoUrl: 'https://x/a.mp4', audioUrl: 'https://x/a.wav', duration: 6, audioDuration: 4 },
      { videoUrl: 'https://x/b.mp4', audioUrl: 'https://x/b.wav', videoDuration: 10, audioDuration: 12 },
    ];
    const r = await runFlow(graph([{ id: 's', workerType: 'shotstack', config: { mockDelaySeconds: 1 } }], []), { scenes });
    expect(r.status).toBe('completed');
    expect(r.nodes.s.output).toMatchObject({ duration: 16, shotstackRenderId: expect.stringMatching(/^mock-/) });
    expect(r.nodes.s.metadata).toMatchObject({ timeline: { clips: 2, duration: 16 } });
    const mp4 = await fetchMedia(r.nodes.s.output.finalVideoUrl, /video\/mp4/);
    expect(mp4.length).toBeGreaterThan(10_000);
  });

  it('each vendor worker says once, when constructed, that it runs in mock mode', async () => {
    const cases: Array<[string, WorkerClass, unknown]> = [
      ['claude', ClaudeWorker, { prompt: 'hi' }],
      ['minimax', MiniMaxWorker, { visual_prompt: 'a fox' }],
      ['elevenlabs', ElevenLabsWorker, { voice_text: 'hello' }],
      ['shotstack', ShotstackWorker, { scenes: [{ videoUrl: 'https://x/a.mp4' }] }],
    ];
    for (const [type, WorkerClass, input] of cases) {
      const run = await runWorker(WorkerClass, { definition: type, input, env: { ...mockEnv(), STITCH_DATA_DIR: dataDir } });
      expect(run.status === 'completed' || run.status === 'running').toBe(true);
      expect(run.logs.filter((l) => /MOCK MODE/.test(l.message)).map((l) => l.message)).toHaveLength(1);
    }
  });

  it('the demo flow (examples/video-factory.json) completes and links a playable video', async () => {
    const file = JSON.parse(readFileSync('examples/video-factory.json', 'utf8'));
    const flow = await createFlow(`demo-${Date.now()}`, file.graph);
    const { runId } = await startRun(flow.id, { input: file.input });
    const r = (await waitForRun(runId, { timeoutMs: 60_000 })) as any; // eslint-disable-line @typescript-eslint/no-explicit-any
    expect(r.status).toBe('completed');
    expect(r.output).toMatchObject({ finalVideoUrl: expect.stringContaining('/files/'), duration: 18 });
    expect(r.output.scenes).toHaveLength(3);
    for (const scene of r.output.scenes) {
      expect(scene).toMatchObject({ visual_prompt: expect.any(String), voice_text: expect.any(String), videoUrl: expect.any(String), audioUrl: expect.any(String) });
      await fetchMedia(scene.videoUrl, /video\/mp4/);
      await fetchMedia(scene.audioUrl, /audio/);
    }
    await fetchMedia(r.output.finalVideoUrl, /video\/mp4/);
  });
});

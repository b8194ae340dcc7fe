/**
 * Real mode against fake vendor servers on loopback (test/vendors/*), through the real HTTP server
 * and its callback route: requests asserted field by field, vendor callbacks POSTed to the callback
 * URL (MiniMax's challenge handshake included), poll fallback when no callback comes. Error
 * classification (4xx, 5xx, timeout, malformed) runs each worker once in the worker harness.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { VisualGraph } from '@/types/stitch';
import { createFlow } from '@/lib/engine/flows';
import { getPool } from '@/lib/db/pool';
import { getRunWithNodes } from '@/lib/db/runs';
import { startRun } from '@/lib/engine/start-run';
import { runWorker } from '@/lib/workers/testing';
import type { WorkerClass } from '@/lib/workers/base';
import { ClaudeWorker, ElevenLabsWorker, MiniMaxWorker, ShotstackWorker } from '@/lib/workers';
import { eventually, graph, waitForRun } from '../../../../test/helpers';
import { startTestServer, type TestServer } from '../../../../test/server/http';
import { setEnv, tempDataDir } from '../../../../test/vendors/env';
import { ANTHROPIC_KEY, deltasOf, startFakeAnthropic, type FakeAnthropic } from '../../../../test/vendors/anthropic';
import { openSse } from '../../../../test/server/sse-client';
import { ELEVENLABS_KEY, FAKE_AUDIO, startFakeElevenLabs, type FakeElevenLabs } from '../../../../test/vendors/elevenlabs';
import { MINIMAX_KEY, startFakeMiniMax, type FakeMiniMax } from '../../../../test/vendors/minimax';
import { SHOTSTACK_KEY, startFakeShotstack, type FakeShotstack } from '../../../../test/vendors/shotstack';
import { postJson, type Failure } from '../../../../test/vendors/server';

let server: TestServer;
let anthropic: FakeAnthropic;
let minimax: FakeMiniMax;
let elevenlabs: FakeElevenLabs;
let shotstack: FakeShotstack;
let restore: () => void;
let env: Record<string, string>;
const dataDir = tempDataDir();

beforeAll(async () => {
  [anthropic, minimax, elevenlabs, shotstack] = await Promise.all([startFakeAnthropic(), startFakeMiniMax(), startFakeElevenLabs(), startFakeShotstack()]);
  env = {
    STITCH_DATA_DIR: dataDir,
    ANTHROPIC_API_KEY: ANTHROPIC_KEY,
    ANTHROPIC_API_URL: anthropic.url,
    MINIMAX_API_KEY: MINIMAX_KEY,
    MINIMAX_API_URL: minimax.url,
    ELEVENLABS_API_KEY: ELEVENLABS_KEY,
    ELEVENLABS_API_URL: elevenlabs.url,
    SHOTSTACK_API_KEY: SHOTSTACK_KEY,
    SHOTSTACK_API_URL: shotstack.url,
  };
  restore = setEnv(env);
  server = await startTestServer({ env });
  setEnv({ STITCH_BASE_URL: server.url });
});
afterAll(async () => {
  await server?.close();
  await Promise.all([anthropic, minimax, elevenlabs, shotstack].map((f) => f?.close()));
  restore?.();
});

async function start(g: VisualGraph, input: unknown) {
  const flow = await createFlow(`real-${Math.random()}`, g);
  return (await startRun(flow.id, { input })).runId;
}
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- node outputs are free-form JSON
const finished = (runId: string): Promise<any> => waitForRun(runId, { timeoutMs: 30_000 });

describe('claude (Anthropic Messages API)', () => {
  it('sends the documented request and outputs the text with usage in metadata', async () => {
    const runId = await start(
      graph([{ id: 'c', workerType: 'claude', config: { model: 'claude-test-1', prompt: 'Tell me about {{topic}}', system: 'Be brief.', maxTokens: 300, temperature: 0.2 } }], []),
      { topic: 'otters' },
    );
    const r = await finished(runId);
    expect(r.status).toBe('completed');
    const req = anthropic.requests.at(-1)!;
    expect(req.method).toBe('POST');
    expect(req.path).toBe('/v1/messages');
    expect(req.headers['x-api-key']).toBe(ANTHROPIC_KEY);
    expect(req.headers['anthropic-version']).toBe('2023-06-01');
    expect(req.headers['content-type']).toMatch(/application\/json/);
    expect(req.body).toEqual({ model: 'claude-test-1', max_tokens: 300, system: 'Be brief.', temperature: 0.2, messages: [{ role: 'user', content: 'Tell me about otters' }], stream: true });
    expect(r.nodes.c.output).toEqual({ topic: 'otters', text: 'Hello from the fake.', usage: { inputTokens: 12, outputTokens: 6 } });
    expect(r.nodes.c.metadata).toMatchObject({ usage: { inputTokens: 12, outputTokens: 6 }, model: 'claude-test-1', stopReason: 'end_turn' });
  });

  it('streams the answer as the API streams it: every text delta, in order; output and usage as before', async () => {
    anthropic.reply = 'Otters hold hands while they sleep so that they do not drift apart.';
    try {
      const run = await runWorker(ClaudeWorker, { definition: 'claude', input: { prompt: 'otters' }, env });
      expect(run.status).toBe('completed');
      expect(run.streamed).toEqual(deltasOf(anthropic.reply));
      expect(run.output).toMatchObject({ text: anthropic.reply, usage: { inputTokens: 12, outputTokens: Math.ceil(anthropic.reply.length / 3.5) } });
      expect(run.usage).toEqual([
        { unit: 'input_tokens', quantity: 12, mock: false },
        { unit: 'output_tokens', quantity: Math.ceil(anthropic.reply.length / 3.5), mock: false },
      ]);
    } finally {
      anthropic.reply = 'Hello from the fake.';
    }
  });

  it('in a run, the first words reach SSE readers while the API is still streaming', async () => {
    let release!: () => void;
    anthropic.hold = new Promise<void>((r) => (release = r));
    try {
      const runId = await start(graph([{ id: 'c', workerType: 'claude', config: { model: 'claude-test-1' } }], []), { prompt: 'hi' });
      const sse = openSse(`${server.url}/api/runs/${runId}/events`);
      await sse.opened;
      // The fake holds its stream after the first word: that word is already on the SSE stream.
      const first = await eventually(async () => sse.events.find((e) => (e as { type: string }).type === 'node:stream'));
      expect(first).toMatchObject({ instanceId: 'c', attempt: 1, seq: 0, parts: ['Hello'] });
      expect((await getRunWithNodes(runId)).nodes.c.status).not.toBe('completed');
      release();
      const r = await finished(runId);
      expect(r.nodes.c.output.text).toBe('Hello from the fake.');
      sse.close();
    } finally {
      anthropic.hold = undefined;
      release?.();
    }
  });

  it('an error event inside the stream (overloaded) fails the attempt as retriable', async () => {
    anthropic.failure = 'stream-error';
    try {
      const run = await runWorker(ClaudeWorker, { definition: 'claude', input: { prompt: 'x' }, env });
      expect(run.status).toBe('failed');
      expect(run.retriable).toBe(true);
      expect(run.error).toMatch(/overloaded/i);
      expect(run.streamed).toEqual(['Hello']); // what was streamed before the error
    } finally {
      anthropic.failure = 'none';
    }
  });
});

describe('minimax (video_generation, callback protocol, query, files/retrieve)', () => {
  it('submits the documented request, answers the challenge, and completes from the success callback', async () => {
    const runId = await start(graph([{ id: 'm', workerType: 'minimax', config: { model: 'MiniMax-Hailuo-02', resolution: '768P', duration: 6 } }], []), { visual_prompt: 'a fox in snow', keep: 1 });
    const task = await eventually(async () => [...minimax.tasks.values()].find((t) => t.prompt === 'a fox in snow' && t.challengeEchoed));
    const submit = minimax.requests.find((q) => q.method === 'POST' && q.body?.prompt === 'a fox in snow')!;
    expect(submit.path).toBe('/v1/video_generation');
    expect(submit.headers.authorization).toBe(`Bearer ${MINIMAX_KEY}`);
    expect(submit.body).toEqual({
      model: 'MiniMax-Hailuo-02',
      prompt: 'a fox in snow',
      duration: 6,
      resolution: '768P',
      prompt_optimizer: true,
      callback_url: expect.stringMatching(new RegExp(`^${server.url}/api/stitch/callback/${runId}/m\\?token=`)),
    });
    // The "processing" update and the challenge settle nothing.
    expect((await getRunWithNodes(runId)).nodes.m.status).toBe('running');
    const answer = await minimax.finish(task.taskId);
    expect(answer?.status).toBe(200);
    const r = await finished(runId);
    expect(r.status).toBe('completed');
    expect(r.nodes.m.output).toEqual({
      visual_prompt: 'a fox in snow',
      keep: 1,
      minimaxTaskId: task.taskId,
      minimaxFileId: `f${task.taskId}`,
      videoUrl: `${minimax.url}/download/f${task.taskId}.mp4`,
      videoDuration: 6,
      videoWidth: 1366,
      videoHeight: 768,
    });
    const query = minimax.requests.find((q) => q.path === '/v1/query/video_generation' && q.query.task_id === task.taskId)!;
    expect(query.headers.authorization).toBe(`Bearer ${MINIMAX_KEY}`);
    expect(minimax.requests.some((q) => q.path === '/v1/files/retrieve' && q.query.file_id === `f${task.taskId}`)).toBe(true);
  });

  it('polls when no callback comes: still processing extends the deadline, then success resolves the file', async () => {
    const runId = await start(graph([{ id: 'm', workerType: 'minimax', timeoutSeconds: 1, config: { pollIntervalSeconds: 1 } }], []), { visual_prompt: 'poll me' });
    const task = await eventually(async () => [...minimax.tasks.values()].find((t) => t.prompt === 'poll me'));
    await eventually(async () => minimax.requests.some((q) => q.path === '/v1/query/video_generation' && q.query.task_id === task.taskId));
    expect((await getRunWithNodes(runId)).nodes.m.status).toBe('running');
    await minimax.finish(task.taskId, { callback: false });
    const r = await finished(runId);
    expect(r.status).toBe('completed');
    expect(r.nodes.m.output.videoUrl).toBe(`${minimax.url}/download/f${task.taskId}.mp4`);
  });

  it('a success callback touches only its own node: a task_id of another run forces nothing there (issue 10 C.18)', async () => {
    const runA = await start(graph([{ id: 'm', workerType: 'minimax' }], []), { visual_prompt: 'own node A' });
    const runB = await start(graph([{ id: 'm', workerType: 'minimax' }], []), { visual_prompt: 'own node B' });
    const taskB = await eventually(async () => [...minimax.tasks.values()].find((t) => t.prompt === 'own node B' && t.challengeEchoed));
    const taskA = await eventually(async () => [...minimax.tasks.values()].find((t) => t.prompt === 'own node A' && t.challengeEchoed));
    const deadlineOf = async (runId: string) => (await getPool().query('SELECT deadline_at FROM stitch_node_runs WHERE run_id = $1', [runId])).rows[0].deadline_at.getTime();
    const before = await deadlineOf(runB);
    // The vendor has A's file; it says so with run A's signed URL but run B's task id.
    await minimax.finish(taskA.taskId, { callback: false });
    const forged = await postJson(taskA.callbackUrl!, { task_id: taskB.taskId, status: 'success', file_id: 'fB', base_resp: { status_code: 0, status_msg: 'success' } });
    expect(forged.status).toBe(200);
    expect(await deadlineOf(runB)).toBe(before);
    expect((await getRunWithNodes(runB)).nodes.m.status).toBe('running');
    // A's own node was polled now (not at its deadline): A completes from its own task.
    const r = await finished(runA);
    expect(r.status).toBe('completed');
    expect(r.nodes.m.output.minimaxTaskId).toBe(taskA.taskId);
    await minimax.finish(taskB.taskId);
    expect((await finished(runB)).status).toBe('completed');
  });

  it('a Fail callback that arrives before the submit answers retries cleanly: the late running write of attempt 1 is refused (issue 10 A.1)', async () => {
    minimax.failViaCallbackFirst = 1;
    const runId = await start(
      graph(['s:start', { id: 'm', workerType: 'minimax', retry: { attempts: 3, backoffMs: 50, maxBackoffMs: 100 } }, 'e:end'], [['s', 'm'], ['m', 'e']]),
      { visual_prompt: 'fail first via callback' },
    );
    // Attempt 2 submits again (before the fix attempt 1's late updateNodeState flipped it to running
    // and its job then did nothing: no submit, no deadline, a run that never ended).
    const second = await eventually(async () =>
      [...minimax.tasks.values()].find((t) => t.prompt === 'fail first via callback' && t.status !== 'Fail' && t.challengeEchoed),
    );
    await minimax.finish(second.taskId);
    const r = await finished(runId);
    expect(r.status).toBe('completed');
    expect(r.nodes.m.attempt).toBe(2);
    expect(r.nodes.m.output.minimaxTaskId).toBe(second.taskId);
  });

  it('a failed task callback fails the node with MiniMax\'s reason', async () => {
    const runId = await start(graph([{ id: 'm', workerType: 'minimax', retry: { attempts: 1 } }], []), { visual_prompt: 'fail me' });
    const task = await eventually(async () => [...minimax.tasks.values()].find((t) => t.prompt === 'fail me' && t.challengeEchoed));
    await minimax.finish(task.taskId, { fail: true });
    const r = await finished(runId);
    expect(r.status).toBe('failed');
    expect(r.nodes.m.error).toMatch(/MiniMax task \d+ failed: video contains sensitive content/);
  });
});

describe('elevenlabs (text-to-speech)', () => {
  it('sends the documented request and stores the audio where audioUrl serves it', async () => {
    const runId = await start(graph([{ id: 'v', workerType: 'elevenlabs', config: { voiceId: 'voice123', modelId: 'eleven_turbo_v2_5' } }], []), { voice_text: 'Hello otters', keep: true });
    const r = await finished(runId);
    expect(r.status).toBe('completed');
    const req = elevenlabs.requests.at(-1)!;
    expect(req.method).toBe('POST');
    expect(req.path).toBe('/v1/text-to-speech/voice123');
    expect(req.query).toEqual({ output_format: 'mp3_44100_128' });
    expect(req.headers['xi-api-key']).toBe(ELEVENLABS_KEY);
    expect(req.body).toEqual({ text: 'Hello otters', model_id: 'eleven_turbo_v2_5' });
    expect(r.nodes.v.output).toMatchObject({ voice_text: 'Hello otters', keep: true, audioDuration: 2, audioFormat: 'mp3_44100_128' });
    expect(r.nodes.v.output.audioUrl).toBe(`${server.url}/files/audio/${runId}/v.mp3`);
    const audio = await fetch(r.nodes.v.output.audioUrl);
    expect(audio.status).toBe(200);
    expect(Buffer.from(await audio.arrayBuffer())).toEqual(FAKE_AUDIO);
  });
});

describe('shotstack (render, webhook, render status)', () => {
  const scenes = [
    { videoUrl: 'https://cdn.example/a.mp4', audioUrl: 'https://cdn.example/a.mp3', duration: 6, audioDuration: 4.5 },
    { videoUrl: 'https://cdn.example/b.mp4', audioUrl: 'https://cdn.example/b.mp3', videoDuration: 6, audioDuration: 7 },
  ];

  it('posts the timeline with cumulative starts and completes from the render callback', async () => {
    const runId = await start(graph([{ id: 's', workerType: 'shotstack' }], []), { scenes });
    const render = await eventually(async () => [...shotstack.renders.values()].find((x) => x.edit.callback?.includes(runId)));
    const req = shotstack.requests.find((q) => q.method === 'POST' && q.body?.callback?.includes(runId))!;
    expect(req.path).toBe('/stage/render');
    expect(req.headers['x-api-key']).toBe(SHOTSTACK_KEY);
    expect(req.body).toEqual({
      timeline: {
        background: '#000000',
        tracks: [
          { clips: [
            { asset: { type: 'video', src: 'https://cdn.example/a.mp4', volume: 0 }, start: 0, length: 6 },
            { asset: { type: 'video', src: 'https://cdn.example/b.mp4', volume: 0 }, start: 6, length: 6 },
          ] },
          { clips: [
            { asset: { type: 'audio', src: 'https://cdn.example/a.mp3', volume: 1 }, start: 0, length: 4.5 },
            { asset: { type: 'audio', src: 'https://cdn.example/b.mp3', volume: 1 }, start: 6, length: 6 },
          ] },
        ],
      },
      output: { format: 'mp4', resolution: 'sd' },
      callback: expect.stringMatching(new RegExp(`^${server.url}/api/stitch/callback/${runId}/s\\?token=`)),
    });
    expect((await shotstack.finish(render.id))?.status).toBe(200);
    const r = await finished(runId);
    expect(r.status).toBe('completed');
    expect(r.nodes.s.output).toMatchObject({ finalVideoUrl: expect.stringContaining(`${render.id}.mp4`), duration: 12, shotstackRenderId: render.id });
  });

  it('polls the render status when no callback comes', async () => {
    const runId = await start(graph([{ id: 's', workerType: 'shotstack', timeoutSeconds: 1, config: { pollIntervalSeconds: 1 } }], []), { scenes });
    const render = await eventually(async () => [...shotstack.renders.values()].find((x) => x.edit.callback?.includes(runId)));
    await eventually(async () => shotstack.requests.some((q) => q.method === 'GET' && q.path === `/stage/render/${render.id}`));
    await shotstack.finish(render.id, { callback: false });
    const r = await finished(runId);
    expect(r.status).toBe('completed');
    expect(r.nodes.s.output).toMatchObject({ finalVideoUrl: expect.stringContaining(`${render.id}.mp4`), duration: 18 });
  });
});

describe('vendor errors: 4xx never retried, 5xx / timeout / malformed retried, 429 waits', () => {
  const cases: Array<{ name: string; Worker: WorkerClass; definition: string; input: unknown; fail: (f: Failure | '429' | '529') => void }> = [
    { name: 'claude', Worker: ClaudeWorker, definition: 'claude', input: { prompt: 'x' }, fail: (f) => (anthropic.failure = f as FakeAnthropic['failure']) },
    { name: 'minimax', Worker: MiniMaxWorker, definition: 'minimax', input: { visual_prompt: 'x' }, fail: (f) => Object.assign(minimax, { failure: f, failNext: 1 }) },
    { name: 'elevenlabs', Worker: ElevenLabsWorker, definition: 'elevenlabs', input: { voice_text: 'x' }, fail: (f) => (elevenlabs.failure = f as Failure) },
    { name: 'shotstack', Worker: ShotstackWorker, definition: 'shotstack', input: { scenes: [{ videoUrl: 'https://x/a.mp4' }] }, fail: (f) => (shotstack.failure = f as Failure) },
  ];
  const expected: Record<Failure, { retriable: boolean; error: RegExp }> = {
    none: { retriable: true, error: /./ },
    '4xx': { retriable: false, error: /40\d|2013|invalid|Bad Request|voice_not_found/ },
    '5xx': { retriable: true, error: /50\d|1000|error/ },
    timeout: { retriable: true, error: /timed out|timeout/i },
    malformed: { retriable: true, error: /malformed|JSON|Unexpected|audio/ },
  };
  for (const c of cases) {
    for (const failure of ['4xx', '5xx', 'timeout', 'malformed'] as const) {
      it(`${c.name}: ${failure}`, async () => {
        c.fail(failure);
        try {
          const run = await runWorker(c.Worker, { definition: c.definition, input: c.input, config: { requestTimeoutSeconds: 1 }, env: { ...env, STITCH_BASE_URL: server.url } });
          expect(run.status).toBe('failed');
          expect(run.retriable).toBe(expected[failure].retriable);
          expect(run.error).toMatch(expected[failure].error);
          expect(run.error).not.toContain(env[`${c.name === 'claude' ? 'ANTHROPIC' : c.name.toUpperCase()}_API_KEY`]);
        } finally {
          c.fail('none');
        }
      });
    }
  }

  it('claude: 429 waits for Retry-After, 529 overloaded is retried', async () => {
    for (const [failure, retryAfterMs] of [['429', 7000], ['529', undefined]] as const) {
      anthropic.failure = failure;
      const run = await runWorker(ClaudeWorker, { definition: 'claude', input: { prompt: 'x' }, env });
      anthropic.failure = 'none';
      expect(run.status).toBe('failed');
      expect(run.retriable).toBe(true);
      expect((run.thrown as { retryAfterMs?: number }).retryAfterMs).toBe(retryAfterMs);
    }
  });
});

/**
 * Shotstack: render the scenes into one video. Async:
 *   1. `POST {base}/{stage}/render` (`x-api-key`) with an Edit {timeline: {tracks: [video clips],
 *      [audio clips]}, output, callback} — clips placed back to back (cumulative `start`)
 *      → 201 {success, message: "Created", response: {message, id}}.
 *   2. Shotstack POSTs the callback {type: "edit", action: "render", id, owner, status: "done"|"failed",
 *      url, error, completed}; `parseCallback` turns it into `finalVideoUrl` (a later `type: "serve"`
 *      copy notice settles nothing).
 *   3. No callback by the deadline: `poll()` reads `GET {base}/{stage}/render/{id}`
 *      (status queued|fetching|rendering|saving|done|failed).
 * Output: `finalVideoUrl` and `duration` (the timeline's length, stored at submission).
 * Sources: shotstack.io/docs/api, shotstack.io/docs/guide/architecting-an-application/webhooks.
 */
import type { NodeConfig, WorkerCallback } from '@/types/stitch';
import { NonRetriableError } from '@/lib/errors';
import { updateNodeState } from '@/lib/db/runs';
import type { PollResult } from './base';
import { MOCK_RENDER_VIDEO, mockId, storeMockAsset } from './mock-media';
import { buildCallbackUrl, logWorker, reportUsage, scheduleCallback } from './utils';
import { malformed, vendorJson } from './vendor-http';
import { VendorWorker, numberFrom } from './vendor-worker';

export interface ShotstackClip {
  asset: { type: 'video' | 'audio'; src: string; volume?: number };
  start: number;
  length: number;
}

const round2 = (n: number) => Math.round(n * 100) / 100;
const str = (v: unknown) => (typeof v === 'string' && v ? v : undefined);
const num = (v: unknown) => (typeof v === 'number' && v > 0 ? v : typeof v === 'string' && Number(v) > 0 ? Number(v) : undefined);

/** The scenes array wherever the collector put it: `scenes`, `results`, `clips`, `items`, or the only array field. */
export function scenesOf(input: Record<string, unknown>): Record<string, unknown>[] {
  const named = ['scenes', 'results', 'clips', 'items'].map((k) => input?.[k]).find(Array.isArray);
  const list = named ?? Object.values(input ?? {}).find(Array.isArray);
  if (!Array.isArray(list) || list.length === 0) throw new NonRetriableError('Missing required field: scenes (a non-empty array of {videoUrl, audioUrl})');
  return list as Record<string, unknown>[];
}

/**
 * The timeline: one video track and one voice track, clips back to back. A clip lasts the scene's
 * `duration`, else its video's, else its audio's length; the voice clip never outlasts its scene.
 */
export function buildTimeline(scenes: Record<string, unknown>[], defaultClipSeconds = 6) {
  const video: ShotstackClip[] = [];
  const audio: ShotstackClip[] = [];
  let start = 0;
  scenes.forEach((scene, i) => {
    const videoUrl = str(scene.videoUrl) ?? str(scene.video_url);
    if (!videoUrl) throw new NonRetriableError(`Scene ${i} has no videoUrl`);
    const audioUrl = str(scene.audioUrl) ?? str(scene.audio_url);
    const audioLength = num(scene.audioDuration);
    const length = round2(num(scene.duration) ?? num(scene.videoDuration) ?? audioLength ?? defaultClipSeconds);
    video.push({ asset: { type: 'video', src: videoUrl, volume: 0 }, start, length });
    if (audioUrl) audio.push({ asset: { type: 'audio', src: audioUrl, volume: 1 }, start, length: round2(Math.min(length, audioLength ?? length)) });
    start = round2(start + length);
  });
  return { tracks: audio.length ? [{ clips: video }, { clips: audio }] : [{ clips: video }], duration: start };
}

interface RenderResponse {
  success?: boolean;
  message?: string;
  response?: { id?: string; message?: string; status?: string; url?: string; error?: string; duration?: number };
}

const describeError = (body: unknown) => {
  const b = body as RenderResponse & { response?: unknown };
  return b?.message ? `${b.message}${b.response ? ` ${JSON.stringify(b.response).slice(0, 300)}` : ''}` : undefined;
};

const IN_PROGRESS = ['queued', 'fetching', 'preprocessing', 'rendering', 'saving'];

export class ShotstackWorker extends VendorWorker {
  constructor() {
    super({ id: 'shotstack', vendor: 'Shotstack', keyEnv: 'SHOTSTACK_API_KEY', keyName: 'shotstackApiKey', urlName: 'shotstackApiUrl', defaultUrl: 'https://api.shotstack.io' });
  }

  #request(config: NodeConfig, path: string, json?: unknown) {
    return vendorJson<RenderResponse>({
      vendor: 'Shotstack',
      url: `${this.apiUrl}/${encodeURIComponent(String(config.stage))}${path}`,
      headers: { 'x-api-key': this.apiKey!, Accept: 'application/json' },
      json,
      timeoutMs: numberFrom(config.requestTimeoutSeconds, 30) * 1000,
      describeError,
    });
  }

  protected async executeReal(runId: string, nodeId: string, config: NodeConfig, input: Record<string, unknown>): Promise<void> {
    const timeline = buildTimeline(scenesOf(input), numberFrom(config.defaultClipSeconds, 6));
    const body = await this.#request(config, '/render', {
      timeline: { background: config.background, tracks: timeline.tracks },
      output: { format: config.format, resolution: config.resolution },
      callback: buildCallbackUrl(runId, nodeId),
    });
    const renderId = body.response?.id;
    if (!body.success || typeof renderId !== 'string') throw malformed('Shotstack', '/render', 'no response.id');
    logWorker('info', 'Shotstack render queued', { worker: 'shotstack', runId, nodeId, renderId, duration: timeline.duration });
    await updateNodeState(runId, nodeId, {
      status: 'running',
      output: { ...input, shotstackRenderId: renderId, duration: timeline.duration },
      metadata: { message: `Shotstack render ${renderId} queued`, vendorTaskId: renderId },
    });
    // Shotstack bills rendered output by the second: the timeline's length.
    await reportUsage(runId, nodeId, [{ unit: 'render_seconds', quantity: timeline.duration }]);
  }

  protected async executeMock(runId: string, nodeId: string, config: NodeConfig, input: Record<string, unknown>): Promise<void> {
    const timeline = buildTimeline(scenesOf(input), numberFrom(config.defaultClipSeconds, 6));
    const renderId = `mock-${mockId(runId, nodeId, timeline)}`;
    const finalVideoUrl = await storeMockAsset(MOCK_RENDER_VIDEO);
    await updateNodeState(runId, nodeId, {
      status: 'running',
      output: { ...input, shotstackRenderId: renderId, duration: timeline.duration },
      metadata: { message: 'mock Shotstack render queued', mock: true, timeline: { clips: timeline.tracks[0].clips.length, duration: timeline.duration } },
    });
    await reportUsage(runId, nodeId, [{ unit: 'render_seconds', quantity: timeline.duration, mock: true }]);
    await scheduleCallback(runId, nodeId, { status: 'completed', output: { finalVideoUrl, mock: true } }, numberFrom(config.mockDelaySeconds, 3));
  }

  parseCallback(body: unknown): WorkerCallback | { reply: unknown } {
    if (!body || typeof body !== 'object') throw new Error('Shotstack callback body must be a JSON object');
    const b = body as { type?: string; id?: string; status?: string; url?: string; error?: string | null };
    if (b.type !== 'edit') return { reply: { received: true } }; // e.g. the Serve API's "copy" notice
    if (b.status === 'done') {
      if (!str(b.url)) throw new Error('Shotstack "done" callback without url');
      return { status: 'completed', output: { finalVideoUrl: b.url, shotstackRenderId: b.id } };
    }
    if (b.status === 'failed') return { status: 'failed', error: `Shotstack render ${b.id} failed: ${b.error ?? 'no reason given'}` };
    return { reply: { received: true } };
  }

  async poll(runId: string, nodeId: string, config: NodeConfig, stored: unknown): Promise<PollResult> {
    const renderId = (stored as { shotstackRenderId?: string } | null)?.shotstackRenderId;
    if (!renderId) return { status: 'failed', error: 'Shotstack render id was not stored: the submission never completed' };
    if (renderId.startsWith('mock-')) return { status: 'running', extendSeconds: 5 };
    const body = await this.#request(config, `/render/${encodeURIComponent(renderId)}`);
    const r = body.response;
    if (!r || typeof r.status !== 'string') throw malformed('Shotstack', '/render/{id}', 'no response.status');
    logWorker('info', 'Shotstack render polled', { worker: 'shotstack', runId, nodeId, renderId, status: r.status });
    if (r.status === 'done') {
      if (!str(r.url)) throw malformed('Shotstack', '/render/{id}', 'done without url');
      return { status: 'completed', output: { finalVideoUrl: r.url, ...(num(r.duration) ? { duration: r.duration } : {}) } };
    }
    if (r.status === 'failed') return { status: 'failed', error: `Shotstack render ${renderId} failed: ${r.error ?? 'no reason given'}` };
    if (!IN_PROGRESS.includes(r.status)) throw malformed('Shotstack', '/render/{id}', `unknown status "${r.status}"`);
    return { status: 'running', extendSeconds: numberFrom(config.pollIntervalSeconds, 15) };
  }
}

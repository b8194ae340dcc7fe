/**
 * MiniMax text-to-video (Hailuo). Async:
 *   1. `POST /v1/video_generation` {model, prompt, duration, resolution, prompt_optimizer, callback_url}
 *      → {task_id, base_resp:{status_code, status_msg}}; the task id is stored with the input.
 *   2. MiniMax first POSTs `{"challenge": …}` to the callback URL and needs it echoed within 3 s
 *      (`parseCallback` answers it), then POSTs status changes shaped like the query response:
 *      {task_id, status: processing|success|failed, file_id, base_resp}.
 *   3. A success carries a `file_id`, not a URL, and `parseCallback` is synchronous: it acknowledges
 *      and brings the node's deadline forward, so `poll()` runs at once as a queue job and resolves
 *      the file (`GET /v1/files/retrieve?file_id=` → file.download_url). A failure settles at once.
 *   4. No callback by the deadline: `poll()` asks `GET /v1/query/video_generation?task_id=`.
 * Sources: platform.minimax.io/docs/api-reference/video-generation-t2v, …/video-generation-query,
 * …/file-management-retrieve, …/errorcode (see docs/integrations.md).
 */
import type { NodeConfig, WorkerCallback } from '@/types/stitch';
import { NonRetriableError, RetryAfterError } from '@/lib/errors';
import { updateNodeState } from '@/lib/db/runs';
import type { CallbackReply, PollResult } from './base';
import { MOCK_SCENE_SECONDS, MOCK_SCENE_VIDEOS, mockId, pickSample, storeMockAsset } from './mock-media';
import { buildCallbackUrl, logWorker, reportUsage, scheduleCallback } from './utils';
import { malformed, vendorJson } from './vendor-http';
import { VendorWorker, numberFrom, stringField } from './vendor-worker';

interface BaseResp {
  base_resp?: { status_code?: number; status_msg?: string };
}

/** MiniMax answers HTTP 200 with its own code in base_resp; map the documented ones. */
function checkBaseResp(body: BaseResp, what: string): void {
  const code = body.base_resp?.status_code;
  if (code === undefined) throw malformed('MiniMax', what, 'no base_resp');
  if (code === 0) return;
  const message = `MiniMax ${what} refused: ${code} ${body.base_resp?.status_msg ?? ''}`.trim();
  if (code === 1002) throw new RetryAfterError(message, 30_000); // rate limit
  if ([1000, 1001, 1024, 1033].includes(code)) throw new Error(message); // unknown/timeout/internal: retry
  throw new NonRetriableError(message); // 1004 auth, 1008 balance, 1026 sensitive content, 2013 params, …
}

const describeError = (body: unknown) => {
  const b = body as BaseResp;
  return b?.base_resp ? `${b.base_resp.status_code} ${b.base_resp.status_msg}` : undefined;
};

const RUNNING = ['preparing', 'queueing', 'processing'];

export class MiniMaxWorker extends VendorWorker {
  constructor() {
    super({ id: 'minimax', vendor: 'MiniMax', keyEnv: 'MINIMAX_API_KEY', keyName: 'minimaxApiKey', urlName: 'minimaxApiUrl', defaultUrl: 'https://api.minimax.io' });
  }

  #request(config: NodeConfig, path: string, json?: unknown) {
    return vendorJson<BaseResp & Record<string, unknown>>({
      vendor: 'MiniMax',
      url: `${this.apiUrl}${path}`,
      headers: { Authorization: `Bearer ${this.apiKey}` },
      json,
      timeoutMs: numberFrom(config.requestTimeoutSeconds, 30) * 1000,
      describeError,
    });
  }

  protected async executeReal(runId: string, nodeId: string, config: NodeConfig, input: Record<string, unknown>): Promise<void> {
    const prompt = stringField(input, ['visual_prompt', 'visualPrompt', 'prompt']);
    if (!prompt) throw new NonRetriableError('Missing required field: visual_prompt');
    const body = await this.#request(config, '/v1/video_generation', {
      model: config.model,
      prompt: prompt.slice(0, 2000),
      duration: numberFrom(config.duration, 6),
      resolution: config.resolution,
      prompt_optimizer: config.promptOptimizer !== false,
      callback_url: buildCallbackUrl(runId, nodeId),
    });
    checkBaseResp(body, '/v1/video_generation');
    if (typeof body.task_id !== 'string' || !body.task_id) throw malformed('MiniMax', '/v1/video_generation', 'no task_id');
    logWorker('info', 'MiniMax task submitted', { worker: 'minimax', runId, nodeId, taskId: body.task_id });
    // MiniMax bills the video by its requested length (and resolution) once the task is accepted.
    await reportUsage(runId, nodeId, [{ unit: 'video_seconds', quantity: numberFrom(config.duration, 6) }]);
    await updateNodeState(runId, nodeId, {
      status: 'running',
      output: { ...input, minimaxTaskId: body.task_id },
      metadata: { message: `MiniMax task ${body.task_id} submitted`, vendorTaskId: body.task_id },
    });
  }

  protected async executeMock(runId: string, nodeId: string, config: NodeConfig, input: Record<string, unknown>): Promise<void> {
    const prompt = stringField(input, ['visual_prompt', 'visualPrompt', 'prompt']);
    if (!prompt) throw new NonRetriableError('Missing required field: visual_prompt');
    const taskId = `mock-${mockId(runId, nodeId, prompt)}`;
    const videoUrl = await storeMockAsset(pickSample(MOCK_SCENE_VIDEOS, prompt));
    await updateNodeState(runId, nodeId, { status: 'running', output: { ...input, minimaxTaskId: taskId }, metadata: { message: 'mock MiniMax task submitted', mock: true } });
    await reportUsage(runId, nodeId, [{ unit: 'video_seconds', quantity: numberFrom(config.duration, 6), mock: true }]);
    // Completes through a scheduled queue job, like the vendor's callback would: a restart loses nothing.
    await scheduleCallback(
      runId,
      nodeId,
      { status: 'completed', output: { videoUrl, videoDuration: MOCK_SCENE_SECONDS, videoWidth: 320, videoHeight: 180, mock: true } },
      numberFrom(config.mockDelaySeconds, 3),
    );
  }

  /** The vendor's callback payload → Stitch's result (or a reply that settles nothing). */
  parseCallback(body: unknown): WorkerCallback | CallbackReply {
    if (!body || typeof body !== 'object') throw new Error('MiniMax callback body must be a JSON object');
    const b = body as BaseResp & { challenge?: unknown; task_id?: string; status?: string; file_id?: string; download_url?: string };
    if (b.challenge !== undefined) return { reply: { challenge: b.challenge } };
    const status = String(b.status ?? '').toLowerCase();
    if (RUNNING.includes(status)) return { reply: { status: 'received' } };
    if (status === 'fail' || status === 'failed') {
      return { status: 'failed', error: `MiniMax task ${b.task_id} failed: ${b.base_resp?.status_msg ?? 'no reason given'}` };
    }
    if (status === 'success') {
      if (typeof b.download_url === 'string') return { status: 'completed', output: { videoUrl: b.download_url, minimaxFileId: b.file_id } };
      if (typeof b.task_id !== 'string') throw new Error('MiniMax success callback without task_id');
      // The file is ready but the payload has no URL: poll() of this node (its stored task id) resolves it.
      return { reply: { status: 'received' }, pollNow: true };
    }
    throw new Error(`Unknown MiniMax callback status "${b.status}"`);
  }

  /** Deadline passed (or a success callback arrived): query the task and resolve its file. */
  async poll(runId: string, nodeId: string, config: NodeConfig, stored: unknown): Promise<PollResult> {
    const taskId = (stored as { minimaxTaskId?: string } | null)?.minimaxTaskId;
    if (!taskId) return { status: 'failed', error: 'MiniMax task id was not stored: the submission never completed' };
    if (taskId.startsWith('mock-')) return { status: 'running', extendSeconds: 5 };
    const task = await this.#request(config, `/v1/query/video_generation?task_id=${encodeURIComponent(taskId)}`);
    checkBaseResp(task, '/v1/query/video_generation');
    const status = String(task.status ?? '').toLowerCase();
    logWorker('info', 'MiniMax task polled', { worker: 'minimax', runId, nodeId, taskId, status });
    if (status === 'fail' || status === 'failed') return { status: 'failed', error: `MiniMax task ${taskId} failed: ${task.base_resp?.status_msg ?? ''}`.trim() };
    if (status !== 'success') {
      if (!RUNNING.includes(status)) throw malformed('MiniMax', '/v1/query/video_generation', `unknown status "${task.status}"`);
      return { status: 'running', extendSeconds: numberFrom(config.pollIntervalSeconds, 30) };
    }
    if (typeof task.file_id !== 'string' && typeof task.file_id !== 'number') throw malformed('MiniMax', '/v1/query/video_generation', 'success without file_id');
    const file = await this.#request(config, `/v1/files/retrieve?file_id=${encodeURIComponent(String(task.file_id))}`);
    checkBaseResp(file, '/v1/files/retrieve');
    const downloadUrl = (file.file as { download_url?: unknown } | undefined)?.download_url;
    if (typeof downloadUrl !== 'string' || !downloadUrl) throw malformed('MiniMax', '/v1/files/retrieve', 'no file.download_url');
    return {
      status: 'completed',
      output: {
        videoUrl: downloadUrl,
        minimaxFileId: String(task.file_id),
        videoDuration: numberFrom(config.duration, 6),
        ...(typeof task.video_width === 'number' ? { videoWidth: task.video_width, videoHeight: task.video_height } : {}),
      },
    };
  }
}

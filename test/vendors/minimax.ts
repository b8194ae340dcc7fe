/**
 * Fake MiniMax video API (platform.minimax.io/docs/api-reference): POST /v1/video_generation,
 * GET /v1/query/video_generation, GET /v1/files/retrieve, the file download, and MiniMax's
 * callback protocol — a `{challenge}` verification POST (which must be echoed), then status
 * payloads shaped like the query response. Tracks how many tasks are submitted and unfinished.
 */
import { postJson, sendJson, startVendorServer, type Failure, type VendorServer } from './server';

export interface FakeTask {
  taskId: string;
  prompt: string;
  callbackUrl?: string;
  status: 'Preparing' | 'Processing' | 'Success' | 'Fail';
  fileId?: string;
  challengeEchoed?: boolean;
}

export interface FakeMiniMax extends VendorServer {
  tasks: Map<string, FakeTask>;
  /** Failure of the next submissions (`failNext` of them). */
  failure: Failure;
  failNext: number;
  /**
   * The next submissions (this many) post a Fail status callback to their callback_url *before*
   * answering the submit: the failure reaches Stitch while its worker still awaits the submit.
   */
  failViaCallbackFirst: number;
  /** Most tasks ever submitted and not yet finished at the same time. */
  maxUnfinished: number;
  /** Finish a task: Success (default) or Fail; `callback: false` leaves Stitch to poll. */
  finish(taskId: string, options?: { fail?: boolean; callback?: boolean }): Promise<{ status: number; body: unknown } | undefined>;
  /** Auto mode: verify the callback after each submission and finish the task `afterMs` later. */
  autoFinishAfterMs?: number;
}

export const MINIMAX_KEY = 'mm-test-key';

export async function startFakeMiniMax(): Promise<FakeMiniMax> {
  let seq = 100000;
  const tasks = new Map<string, FakeTask>();
  const unfinished = () => [...tasks.values()].filter((t) => t.status !== 'Success' && t.status !== 'Fail').length;

  const fake = {} as FakeMiniMax;
  const base = await startVendorServer(async (req, res) => {
    if (req.headers.authorization !== `Bearer ${MINIMAX_KEY}`) {
      return sendJson(res, 200, { base_resp: { status_code: 1004, status_msg: 'not authorized' } });
    }
    if (req.method === 'POST' && req.path === '/v1/video_generation') {
      if (fake.failNext > 0 && fake.failure !== 'none') {
        fake.failNext -= 1;
        if (fake.failure === 'timeout') return; // never answer
        if (fake.failure === 'malformed') return void res.writeHead(200, { 'content-type': 'text/html' }).end('<html>gateway</html>');
        if (fake.failure === '5xx') return sendJson(res, 502, { base_resp: { status_code: 1000, status_msg: 'unknown error' } });
        return sendJson(res, 200, { task_id: '', base_resp: { status_code: 2013, status_msg: 'invalid params: prompt' } });
      }
      const taskId = String(seq++);
      const task: FakeTask = { taskId, prompt: req.body.prompt, callbackUrl: req.body.callback_url, status: 'Preparing' };
      tasks.set(taskId, task);
      if (fake.failViaCallbackFirst > 0 && task.callbackUrl) {
        fake.failViaCallbackFirst -= 1;
        task.status = 'Fail';
        await postJson(task.callbackUrl, { task_id: taskId, status: 'Fail', base_resp: { status_code: 1, status_msg: 'x' } });
        return sendJson(res, 200, { task_id: taskId, base_resp: { status_code: 0, status_msg: 'success' } });
      }
      fake.maxUnfinished = Math.max(fake.maxUnfinished, unfinished());
      sendJson(res, 200, { task_id: taskId, base_resp: { status_code: 0, status_msg: 'success' } });
      if (task.callbackUrl) {
        // MiniMax verifies the callback URL first: the server must echo the challenge within 3 s.
        const challenge = `challenge-${taskId}`;
        const answer = await postJson(task.callbackUrl, { challenge });
        task.challengeEchoed = answer.status === 200 && answer.body?.challenge === challenge;
        await postJson(task.callbackUrl, { task_id: taskId, status: 'processing', base_resp: { status_code: 0, status_msg: 'success' } });
      }
      if (fake.autoFinishAfterMs !== undefined) setTimeout(() => void fake.finish(taskId), fake.autoFinishAfterMs);
      return;
    }
    if (req.method === 'GET' && req.path === '/v1/query/video_generation') {
      const task = tasks.get(req.query.task_id);
      if (!task) return sendJson(res, 200, { base_resp: { status_code: 2013, status_msg: 'task not found' } });
      return sendJson(res, 200, {
        task_id: task.taskId,
        status: task.status,
        ...(task.status === 'Success' ? { file_id: task.fileId, video_width: 1366, video_height: 768 } : {}),
        base_resp: { status_code: 0, status_msg: 'success' },
      });
    }
    if (req.method === 'GET' && req.path === '/v1/files/retrieve') {
      const task = [...tasks.values()].find((t) => t.fileId === req.query.file_id);
      if (!task) return sendJson(res, 200, { base_resp: { status_code: 2013, status_msg: 'file not found' } });
      return sendJson(res, 200, {
        file: { file_id: task.fileId, bytes: 11, created_at: 1700469398, filename: 'output_aigc.mp4', purpose: 'video_generation', download_url: `${fake.url}/download/${task.fileId}.mp4` },
        base_resp: { status_code: 0, status_msg: 'success' },
      });
    }
    if (req.method === 'GET' && req.path.startsWith('/download/')) return void res.writeHead(200, { 'content-type': 'video/mp4' }).end('fake-mp4...');
    sendJson(res, 404, { error: 'unknown route' });
  });

  Object.assign(fake, base, {
    tasks,
    failure: 'none' as Failure,
    failNext: 0,
    failViaCallbackFirst: 0,
    maxUnfinished: 0,
    async finish(taskId: string, options: { fail?: boolean; callback?: boolean } = {}) {
      const task = tasks.get(taskId)!;
      task.status = options.fail ? 'Fail' : 'Success';
      task.fileId = options.fail ? undefined : `f${taskId}`;
      if (options.callback === false || !task.callbackUrl) return undefined;
      return postJson(task.callbackUrl, {
        task_id: taskId,
        status: options.fail ? 'failed' : 'success',
        ...(options.fail ? {} : { file_id: task.fileId }),
        base_resp: options.fail ? { status_code: 1026, status_msg: 'video contains sensitive content' } : { status_code: 0, status_msg: 'success' },
      });
    },
  });
  return fake;
}

/**
 * The pull protocol for remote workers (docs/remote-workers.md):
 *
 * - `POST /api/tasks/poll` long-polls (≤ 30 s, woken by NOTIFY) and claims up to `max` tasks;
 * - `POST /api/tasks/:taskId/heartbeat` extends the lease and reports progress;
 * - `POST /api/tasks/:taskId/complete` and `…/fail` settle the node through the engine's completion
 *   path, bound to the task's attempt by its token;
 * - `POST /api/tasks/:taskId/uploads` gives a presigned URL to PUT an output file to, good while
 *   this attempt holds its lease (src/server/routes/uploads.ts).
 *
 * Order of checks as for callbacks: the task exists (404), the token is this task's (401), then
 * the state (409: the lease expired, the attempt moved on, the run ended). Nothing changes on 4xx.
 */
import { randomBytes } from 'node:crypto';
import { createRoute } from '@hono/zod-openapi';
import { isUuid } from '@/lib/db/runs';
import type { Config } from '@/lib/config';
import { heardFromRemoteWorker } from '@/lib/engine/remote-workers';
import { ConflictError, NonRetriableError, NotFoundError, UnauthorizedError } from '@/lib/errors';
import { verifyCallbackToken } from '@/lib/host/callback-tokens';
import { completeNode, failAttempt } from '@/lib/engine/complete-node';
import { getExecutionGraph } from '@/lib/engine/graph-cache';
import { claimRemoteTasks } from '@/lib/engine/remote-tasks';
import { fromWorker } from '@/lib/engine/worker-edge';
import { getRemoteTask, heartbeatRemoteTask, markRemoteTaskDone, recordRemoteUsage, type RemoteTaskRow } from '@/lib/db/queries/remote-tasks';
import { presignUpload } from '@/lib/storage/presign';
import { newRouter, z } from '../openapi';
import { registerWaiter } from '../remote/task-waiters';
import { errors, json } from '../schemas';
import { WorkerIdSchema } from './remote-workers';
import { getPool } from '@/lib/db/pool';

const MAX_WAIT_SECONDS = 30;
const UPLOAD_URL_TTL_SECONDS = 3600;

const Token = z.string().min(1).max(200).openapi({ description: 'The `token` the task was handed out with' });
const TaskParams = z.object({ taskId: z.string().min(1).max(100).openapi({ param: { name: 'taskId', in: 'path' } }) });

const PollBody = z
  .object({
    types: z.array(z.string().min(1).max(64)).min(1).max(100),
    workerId: WorkerIdSchema,
    max: z.number().int().min(1).max(100).default(1),
    waitSeconds: z.number().min(0).max(MAX_WAIT_SECONDS).default(MAX_WAIT_SECONDS),
  })
  .openapi('PollTasks');

const TaskSchema = z
  .object({
    taskId: z.string(),
    type: z.string(),
    runId: z.string(),
    nodeId: z.string(),
    attempt: z.number(),
    config: z.record(z.string(), z.unknown()),
    input: z.unknown(),
    leaseSeconds: z.number(),
    token: z.string(),
    readyAt: z.number().openapi({ description: 'When the task became ready (ms since the epoch)' }),
    traceparent: z.string().optional().openapi({ description: "With tracing on: W3C trace context of the attempt's span (parent your spans to it)" }),
  })
  .openapi('RemoteTask');

const HeartbeatBody = z.object({ token: Token, progress: z.number().min(0).max(1).optional(), message: z.string().max(500).optional() }).openapi('TaskHeartbeat');
const CompleteBody = z.object({ token: Token, output: z.unknown(), usage: z.record(z.string(), z.unknown()).optional() }).openapi('TaskComplete');
const FailBody = z.object({ token: Token, error: z.string().min(1).max(10_000), retryable: z.boolean().default(true) }).openapi('TaskFail');
const UploadBody = z
  .object({
    token: Token,
    filename: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._=-]{0,127}$/, 'letters, digits and ._=- (at most 128)').default('file'),
    contentType: z.string().regex(/^[\w.+-]+\/[\w.+-]+$/).max(200).default('application/octet-stream'),
  })
  .openapi('TaskUpload');

/** The task, if `token` is its attempt's token (401 otherwise: forged, or another attempt's). */
async function authorizeTask(taskId: string, token: string): Promise<RemoteTaskRow> {
  const task = isUuid(taskId) ? await getRemoteTask(getPool(), taskId) : undefined;
  if (!task) throw new NotFoundError(`Task ${taskId}`);
  const check = verifyCallbackToken(token, task.runId, task.instanceId);
  if (!check.valid) throw new UnauthorizedError(`Invalid task token (${check.reason})`);
  if (check.attempt !== task.attempt) throw new UnauthorizedError(`The token is for attempt ${check.attempt}, not this task's attempt ${task.attempt}`);
  return task;
}

function leaseLost(task: RemoteTaskRow): ConflictError {
  const why = task.state === 'leased' ? 'its lease expired' : `it is ${task.state}`;
  return new ConflictError(`Task ${task.id} (attempt ${task.attempt}) is no longer yours: ${why}. Nothing was changed.`, { state: task.state });
}

const taskRoute = <B extends z.ZodType, R extends z.ZodType>(path: string, summary: string, body: B, response: R, description?: string) =>
  createRoute({
    method: 'post' as const,
    path,
    tags: ['Remote workers'],
    summary,
    description,
    request: { params: TaskParams, body: { content: { 'application/json': { schema: body } }, required: true } },
    responses: { 200: json(response, 'OK'), ...errors(400, 401, 404, 409, 413) },
  });

export function taskRoutes(config: Config, closing?: AbortSignal) {
  const app = newRouter();

  app.openapi(
    createRoute({
      method: 'post',
      path: '/api/tasks/poll',
      tags: ['Remote workers'],
      summary: 'Long-poll for tasks of the given worker types (answers at once when there are some, else within waitSeconds)',
      request: { body: { content: { 'application/json': { schema: PollBody } }, required: true } },
      responses: { 200: json(z.object({ tasks: z.array(TaskSchema) }), 'Claimed tasks (possibly none)'), ...errors(400, 401, 409, 413) },
    }),
    async (c) => {
      const { types, workerId, max, waitSeconds } = c.req.valid('json');
      const until = Date.now() + waitSeconds * 1000;
      // A poller that hung up, or a server closing, ends the wait (and must not claim tasks).
      const signal = closing ? AbortSignal.any([c.req.raw.signal, closing]) : c.req.raw.signal;
      await heardFromRemoteWorker(workerId, types, config.limits);
      for (;;) {
        if (signal.aborted) return c.json({ tasks: [] }, 200);
        // Waiting starts before the look, so a task that becomes ready in between still wakes us.
        const waiter = await registerWaiter(types);
        try {
          const tasks = signal.aborted ? [] : await claimRemoteTasks(workerId, types, max);
          if (tasks.length || Date.now() >= until || signal.aborted) return c.json({ tasks }, 200);
          await waiter.wait(until, signal);
        } finally {
          waiter.cancel();
        }
      }
    },
  );

  app.openapi(
    taskRoute('/api/tasks/{taskId}/heartbeat', 'Extend the lease of a task you hold; report progress (0..1) and a message', HeartbeatBody,
      z.object({ ok: z.literal(true), leasedUntil: z.string() })),
    async (c) => {
      const { taskId } = c.req.valid('param');
      const body = c.req.valid('json');
      const task = await authorizeTask(taskId, body.token);
      const lease = await heartbeatRemoteTask(getPool(), task.id, body.progress ?? null, fromWorker(body.message ?? null));
      if (!lease) throw leaseLost(task);
      return c.json({ ok: true as const, leasedUntil: lease.leasedUntil.toISOString() }, 200);
    },
  );

  app.openapi(
    taskRoute('/api/tasks/{taskId}/complete', 'Complete a task you hold with its output', CompleteBody,
      z.object({ ok: z.literal(true), duplicate: z.boolean().optional() }),
      'Settles the node through the same path as callbacks. An identical repeat of the completing call answers `duplicate: true`.'),
    async (c) => {
      const { taskId } = c.req.valid('param');
      const body = c.req.valid('json');
      const task = await authorizeTask(taskId, body.token);
      // A settled task may see an identical repeat (answered as a duplicate by completeNode).
      if (task.state !== 'done' && !task.leaseCurrent) throw leaseLost(task);
      // authorizeTask verified the token for this task's attempt: it is not verified again.
      const result = await completeNode({ runId: task.runId, instanceId: task.instanceId, attempt: task.attempt, status: 'completed', output: body.output });
      if (body.usage && !result.duplicate) await recordRemoteUsage(getPool(), task, fromWorker(body.usage));
      await markRemoteTaskDone(getPool(), task.id);
      return c.json(result, 200);
    },
  );

  app.openapi(
    taskRoute('/api/tasks/{taskId}/fail', 'Fail a task you hold (retried under the node\'s retry policy unless retryable is false)', FailBody,
      z.object({ ok: z.literal(true) })),
    async (c) => {
      const { taskId } = c.req.valid('param');
      const body = c.req.valid('json');
      const task = await authorizeTask(taskId, body.token);
      if (!task.leaseCurrent) throw leaseLost(task);
      if (body.retryable) {
        await completeNode({ runId: task.runId, instanceId: task.instanceId, attempt: task.attempt, status: 'failed', error: body.error });
      } else {
        const graph = await getExecutionGraph(task.versionId);
        const ref = { runId: task.runId, versionId: task.versionId, instanceId: task.instanceId, attempt: task.attempt };
        if (!(await failAttempt(graph, ref, new NonRetriableError(body.error)))) throw leaseLost({ ...task, state: 'stale' });
      }
      await markRemoteTaskDone(getPool(), task.id);
      return c.json({ ok: true as const }, 200);
    },
  );

  app.openapi(
    taskRoute('/api/tasks/{taskId}/uploads', 'A presigned URL to PUT an output file to (local storage or S3)', UploadBody,
      z.object({ uploadUrl: z.string(), method: z.literal('PUT'), headers: z.record(z.string(), z.string()), url: z.string(), key: z.string(), expiresAt: z.string() })),
    async (c) => {
      const { taskId } = c.req.valid('param');
      const body = c.req.valid('json');
      const task = await authorizeTask(taskId, body.token);
      if (!task.leaseCurrent) throw leaseLost(task);
      // One key per upload, under the run and attempt: distinct attempts never overwrite each other.
      const key = `remote/${task.runId}/${task.instanceId.replace(/[^A-Za-z0-9._=-]/g, '_')}/a${task.attempt}-${randomBytes(6).toString('hex')}-${body.filename}`;
      return c.json(await presignUpload(key, body.contentType, UPLOAD_URL_TTL_SECONDS, task.id), 200);
    },
  );
  return app;
}

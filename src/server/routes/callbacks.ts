/**
 * The callback URL workers hand to vendors: `POST /api/stitch/callback/:runId/:nodeId?token=…`.
 *
 * Order of checks, so that an unauthenticated caller learns nothing: the token (401) before the
 * run and node exist (404), before the body (400), before the state (409, in the engine). A worker
 * with a callback adapter (`parseCallback`) receives the vendor's own payload first; it may answer
 * a handshake (`{reply}`) — the token is required for that too — or translate the payload into
 * `{status, output?, error?}`. Settling goes through `completeNode`, the same function in-process
 * callbacks use.
 */
import { createRoute } from '@hono/zod-openapi';
import type { Context } from 'hono';
import type { WorkerCallback } from '@/types/stitch';
import { getPool } from '@/lib/db/pool';
import { runVersionOf } from '@/lib/db/queries/node-attempt';
import { isUuid } from '@/lib/db/rows';
import { UnauthorizedError, ValidationError, NotFoundError } from '@/lib/errors';
import { verifyCallbackToken } from '@/lib/host/callback-tokens';
import { completeNode } from '@/lib/engine/complete-node';
import { pollNow } from '@/lib/engine/deadline';
import { getExecutionGraph } from '@/lib/engine/graph-cache';
import { parseInstanceId } from '@/lib/engine/instances';
import { workerRegistry } from '@/lib/workers/registry';
import type { IWorker } from '@/lib/workers/base';
import { adaptCallback } from '@/lib/workers/callback-adapter';
import { newRouter, toFieldIssues } from '../openapi';
import { CallbackBody, CallbackQuery, CallbackResultSchema, RunNodeParams, errors, json } from '../schemas';

/** The worker behind a node instance of a run, or undefined for non-worker nodes. */
async function workerForNode(runId: string, instanceId: string): Promise<IWorker | undefined> {
  // The version only: the run row's input and output can be large, and completeNode reads its own.
  const versionId = isUuid(runId) ? await runVersionOf(getPool(), runId) : undefined;
  if (!versionId) throw new NotFoundError(`Run ${runId}`);
  const graph = await getExecutionGraph(versionId);
  const node = graph.nodes[parseInstanceId(instanceId).nodeId];
  if (!node) throw new NotFoundError(`Node ${instanceId} of run ${runId}`);
  if (!node.workerType || !workerRegistry.has(node.workerType)) return undefined;
  return workerRegistry.getWorker(node.workerType);
}

async function readJson(c: Context): Promise<unknown> {
  const text = await c.req.text();
  if (text.trim() === '') return {};
  try {
    return JSON.parse(text);
  } catch {
    throw new ValidationError('The callback body is not valid JSON.');
  }
}

function parseStitchCallback(body: unknown): WorkerCallback {
  const result = CallbackBody.safeParse(body);
  if (!result.success) {
    throw new ValidationError('The callback body must be {status: "completed"|"failed", output?, error?}.', toFieldIssues(result.error));
  }
  return { status: result.data.status, output: result.data.output, error: result.data.error ?? undefined };
}

export function callbackRoutes() {
  const app = newRouter();
  // Documented from the schema but not validated by it: the body is read raw, because a worker's
  // adapter receives its vendor's own shape.
  app.openAPIRegistry.registerPath(
    createRoute({
      method: 'post',
      path: '/api/stitch/callback/{runId}/{nodeId}',
      tags: ['Callbacks'],
      summary: 'Report the result of an async node (the URL from buildCallbackUrl)',
      description:
        'Authenticated by the `token` in the URL (bound to run, node instance and attempt), not by the API key. ' +
        'An identical repeat of the completing callback answers `{ok:true, duplicate:true}`. Workers with a ' +
        'callback adapter accept their vendor\'s payload instead of this body.',
      request: {
        params: RunNodeParams,
        query: CallbackQuery,
        body: { content: { 'application/json': { schema: CallbackBody } }, required: true },
      },
      responses: { 200: json(CallbackResultSchema, 'Settled (or a duplicate, or a handshake reply)'), ...errors(400, 401, 404, 409, 413, 503) },
    }),
  );
  app.post('/api/stitch/callback/:runId/:nodeId', async (c) => {
    const runId = c.req.param('runId');
    const nodeId = c.req.param('nodeId');
    const token = c.req.query('token');
    const check = verifyCallbackToken(token, runId, nodeId);
    if (!check.valid) {
      throw new UnauthorizedError(token ? `Invalid callback token (${check.reason})` : 'The callback URL has no token');
    }
    const worker = await workerForNode(runId, nodeId);
    const body = await readJson(c);
    let callback: WorkerCallback;
    if (worker?.parseCallback) {
      const adapted = await adaptCallback(worker, body, c.req.header());
      if ('reply' in adapted) {
        if (adapted.pollNow) await pollNow(runId, nodeId, check.attempt);
        return c.json(adapted.reply as object, 200);
      }
      callback = parseStitchCallback(adapted); // an adapter's result is checked like a body
    } else {
      callback = parseStitchCallback(body);
    }
    // A completed callback's output is merged over what the worker stored: it must be an object.
    if (callback.output !== undefined && (callback.output === null || typeof callback.output !== 'object' || Array.isArray(callback.output))) {
      throw new ValidationError('The callback output must be a JSON object (it is merged over the node\'s stored input).', [
        { code: 'invalid_type', field: 'output', message: `expected an object, got ${callback.output === null ? 'null' : Array.isArray(callback.output) ? 'an array' : typeof callback.output}` },
      ]);
    }
    // The token was verified above: its attempt is the one completed (no second verification).
    const result = await completeNode({ runId, instanceId: nodeId, attempt: check.attempt, ...callback });
    return c.json(result, 200);
  });
  return app;
}

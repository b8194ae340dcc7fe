/**
 * The one completion path. A worker's own result (`completeAttempt`, from its attempt's host in
 * engine-host.ts), the HTTP callback routes, scheduled callbacks and deadline polls all end here.
 * It settles or fails the attempt with a compare-and-set, and tells an identical
 * repeat of the completing callback (200, duplicate) from a late or foreign one (409, no change).
 */
import type { ExecutionGraph, WorkerCallback } from '@/types/stitch';
import { ConflictError, NonRetriableError, NotFoundError, UnauthorizedError, ValidationError } from '@/lib/errors';
import { getPool } from '@/lib/db/pool';
import { readNodeAttempt } from '@/lib/db/queries/node-attempt';
import { isUuid } from '@/lib/db/runs';
import { retryPolicyFor } from '@/lib/workers/registry';
import { credentialIdentity } from '@/lib/workers/integration-keys';
import { releaseNodeSlots } from '@/lib/fair/limits';
import { getLogger } from '@/lib/log';
import { fromWorker } from './worker-edge';
import { tracingOn, writeCallbackSpan } from '@/lib/tracing/tracer';
import { verifyCallbackToken } from '@/lib/host/callback-tokens';
import type { ClaimBox } from './claims';
import { getExecutionGraph } from './graph-cache';
import { parseInstanceId } from './instances';
import { innermostScope } from './scopes';
import type { CompletionResult } from '@/lib/host/types';
import { abortRun, backoffDelayMs, completionHash, scheduleRetry, settleNode, type NodeRef } from './transitions';

export interface CompletionRequest extends WorkerCallback {
  runId: string;
  instanceId: string;
  /** The attempt, when the caller knows it (a callback route that verified its token, a scheduled callback). */
  attempt?: number;
  /** A callback token still to verify, for a caller that holds only the token; its attempt is then the one completed. */
  token?: string;
}

/** An attempt that knows its own facts (engine-host.ts), so its completion reads nothing back. */
export interface KnownAttempt extends NodeRef {
  /** The merged, validated input (stored with the completion). */
  input: unknown;
  startedAt: Date;
  /**
   * The graphile-worker job executing this attempt: completed in the same commit as the node, so
   * the queue's own completion afterwards writes nothing (one durable commit per hop saved).
   */
  jobId?: string;
  /** Eager dispatch: the completion may claim one cheap successor for this runner (claims.ts). */
  claim?: ClaimBox;
}

function checkCallbackShape(request: WorkerCallback): WorkerCallback {
  if (request.status !== 'completed' && request.status !== 'failed') {
    throw new ValidationError(`status must be "completed" or "failed"`);
  }
  if (request.error !== undefined && request.error !== null && typeof request.error !== 'string') {
    throw new ValidationError('error must be a string');
  }
  return { status: request.status, output: request.output, error: request.error ?? undefined };
}

/** A callback for a node named by ids: its state (version, attempt) is read from the database. */
export async function completeNode(request: CompletionRequest): Promise<CompletionResult> {
  const received = tracingOn() ? new Date() : undefined;
  // A worker may echo its own key (a vendor's error quoting it): no vault value is ever stored.
  const callback = fromWorker(checkCallbackShape(request));
  const { runId, instanceId } = request;
  let attempt = request.attempt;
  if (request.token !== undefined) {
    const check = verifyCallbackToken(request.token, runId, instanceId);
    if (!check.valid) throw new UnauthorizedError(`Invalid callback token (${check.reason})`);
    attempt = check.attempt;
  }
  if (!isUuid(runId)) throw new NotFoundError(`Run ${runId}`);
  const state = await readNodeAttempt(getPool(), runId, instanceId);
  if (!state) throw new NotFoundError(`Node ${instanceId} of run ${runId}`);
  attempt ??= state.attempt;
  const graph = await getExecutionGraph(state.versionId);
  const ref = { runId, versionId: state.versionId, instanceId, attempt };
  const applied = await applyCallback(graph, ref, callback, {});
  if (received) writeCallbackSpan(ref, parseInstanceId(instanceId).nodeId, received, callback.status, applied, callback.error);
  if (applied) return { ok: true };
  return explainRefusal(runId, instanceId, attempt, callback);
}

/** A worker reporting from inside its own attempt: the attempt knows everything, nothing is read first. */
export async function completeAttempt(known: KnownAttempt, reported: WorkerCallback): Promise<CompletionResult> {
  const callback = fromWorker(checkCallbackShape(reported));
  const { runId, versionId, instanceId, attempt } = known;
  const graph = await getExecutionGraph(versionId);
  if (await applyCallback(graph, { runId, versionId, instanceId, attempt }, callback, known)) return { ok: true };
  return explainRefusal(runId, instanceId, attempt, callback);
}

/** After a refused compare-and-set: an identical repeat of the completing callback is a duplicate. */
async function explainRefusal(runId: string, instanceId: string, attempt: number, callback: WorkerCallback): Promise<CompletionResult> {
  const state = await readNodeAttempt(getPool(), runId, instanceId);
  if (!state) throw new NotFoundError(`Node ${instanceId} of run ${runId}`);
  if (
    state.status === 'completed' &&
    state.attempt === attempt &&
    state.metadata.completionHash === completionHash(callback.status, callback.output, callback.error)
  ) {
    return { ok: true, duplicate: true };
  }
  throw new ConflictError(
    `Node ${instanceId} is ${state.status} (attempt ${state.attempt}, run ${state.runStatus}); ` +
      `a ${callback.status} callback for attempt ${attempt} changes nothing.`,
    { status: state.status, attempt: state.attempt, runStatus: state.runStatus },
  );
}

/** Apply a callback to one attempt. Returns false when the compare-and-set refused it. */
export async function applyCallback(
  graph: ExecutionGraph,
  ref: NodeRef,
  callback: WorkerCallback,
  known: { input?: unknown; startedAt?: Date; jobId?: string; claim?: ClaimBox },
): Promise<boolean> {
  const applied = await applyToAttempt(graph, ref, callback, known);
  // Fair share: the attempt's concurrency slot is free; what waits for it goes now.
  if (applied) {
    const node = graph.nodes[parseInstanceId(ref.instanceId).nodeId];
    if (node?.concurrency) await releaseNodeSlots(node, ref);
  }
  return applied;
}

async function applyToAttempt(
  graph: ExecutionGraph,
  ref: NodeRef,
  callback: WorkerCallback,
  known: { input?: unknown; startedAt?: Date; jobId?: string; claim?: ClaimBox },
): Promise<boolean> {
  if (callback.status === 'completed') {
    const result = await settleNode(graph, ref, {
      status: 'completed',
      output: callback.output,
      input: known.input,
      startedAt: known.startedAt,
      merge: true,
      hash: completionHash(callback.status, callback.output, callback.error),
      jobId: known.jobId,
      claim: known.claim,
      metadata: credentialsMetadata(graph.nodes[parseInstanceId(ref.instanceId).nodeId]?.workerType),
    });
    return result.ok;
  }
  return failAttempt(graph, ref, new Error(callback.error || 'The worker reported a failure without a message'), known);
}

/**
 * The identity of the credentials a result was made with (names and sources, never values), kept
 * on the instance for the re-run match (src/lib/rerun): a mock result is never reused by a real
 * run. Nothing for a worker that reads no key (the benchmarked chains).
 */
function credentialsMetadata(workerType: string | undefined): { credentials: string } | undefined {
  const credentials = credentialIdentity(workerType);
  return credentials === 'none' ? undefined : { credentials };
}

/**
 * A failed attempt: retry after backoff while attempts remain (unless the error is non-retriable),
 * else settle as failed — continuing downstream for continueOnError nodes, ending the item's branch
 * for items whose collector collects errors (`onItemError: "collect"`), failing the run otherwise.
 */
export async function failAttempt(
  graph: ExecutionGraph,
  ref: NodeRef,
  error: Error,
  known: { input?: unknown; startedAt?: Date } = {},
): Promise<boolean> {
  const { nodeId } = parseInstanceId(ref.instanceId);
  const node = graph.nodes[nodeId];
  const policy = retryPolicyFor(node?.workerType, node?.retry);
  // Every failure ends here (thrown, reported, a poll's, a remote worker's): its message is a report.
  const message = fromWorker(error.message || 'Unknown error');
  const retriable = !(error instanceof NonRetriableError);
  if (retriable && ref.attempt < policy.attempts) {
    const retryAfter = (error as { retryAfterMs?: number }).retryAfterMs;
    const delay = typeof retryAfter === 'number' ? retryAfter : backoffDelayMs(policy, ref.attempt);
    getLogger().info({ runId: ref.runId, nodeId: ref.instanceId, attempt: ref.attempt, delay, error: message }, 'node attempt failed; retrying');
    return scheduleRetry(ref, message, delay);
  }
  if (node?.continueOnError) {
    const result = await settleNode(graph, ref, {
      status: 'failed',
      output: { error: message },
      error: message,
      input: known.input,
      startedAt: known.startedAt,
      merge: false,
    });
    return result.ok;
  }
  if (innermostScope(graph, nodeId)?.onItemError === 'collect') {
    // The item's branch stops here; its collector lists the error beside the other items' results.
    const result = await settleNode(graph, ref, {
      status: 'failed',
      output: null,
      error: message,
      input: known.input,
      startedAt: known.startedAt,
      merge: false,
      live: () => false,
      metadata: { itemError: 'collected' },
    });
    return result.ok;
  }
  const label = node?.label ? `${node.label} (${ref.instanceId})` : ref.instanceId;
  const attempts = ref.attempt > 1 ? ` after ${ref.attempt} attempts` : '';
  return abortRun(graph, ref.runId, 'failed', `Node ${label} failed${attempts}: ${message}`, {
    instanceId: ref.instanceId,
    attempt: ref.attempt,
    error: message,
  });
}

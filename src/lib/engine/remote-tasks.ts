/**
 * Remote tasks: the attempts of nodes whose worker type a remote process serves
 * (docs/remote-workers.md). The engine's rules hold unchanged:
 *
 * - the `stitch_execute` job turns the attempt into a durable task row in the commit that marks the
 *   node running (`stitch_enqueue_remote_task`, 0011_remote_workers.sql), with a NOTIFY for pollers;
 * - a poll claims rows with `FOR UPDATE SKIP LOCKED`, so one worker at a time holds a task, and the
 *   token it gets is the node's callback token for that attempt;
 * - completions and failures go through `completeNode`/`failAttempt` with that attempt, so a stale or
 *   late one changes nothing;
 * - the `stitch_remote_lease` job expires a lease nobody extended (or a task past the node's timeout)
 *   and fails the attempt, which the node's retry policy turns into a new attempt — a new task.
 */
import { tracingOn } from '@/lib/tracing/tracer';
import { attemptSpanIdOf, traceparentOf } from '@/lib/tracing/ids';
import type { ExecutionGraph, ExecutionNode, WorkerDefinition } from '@/types/stitch';
import { getPool } from '@/lib/db/pool';
import {
  claimRemoteTasks as claimTasks,
  enqueueRemoteTask as enqueueTask,
  findExpiredRemoteTask,
  markRemoteTaskExpired,
  rescheduleLeaseJob,
} from '@/lib/db/queries/remote-tasks';
import { getLogger } from '@/lib/log';
import { refreshRemoteTypes } from './remote-workers';
import { DEFAULT_TIMEOUT_SECONDS, getWorkerDefinition, workerRegistry } from '@/lib/workers/registry';
import { getRemoteType, remoteTypesAgeMs } from '@/lib/workers/remote-types';
import { createCallbackToken } from '@/lib/host/callback-tokens';
import { TOKEN_GRACE_SECONDS } from '@/lib/host/attempt';
import { failAttempt } from './complete-node';
import { getExecutionGraph } from './graph-cache';
import { guardJob } from './job-guard';
import type { NodeRef } from './transitions';


export interface RemoteTask {
  taskId: string;
  type: string;
  runId: string;
  nodeId: string;
  attempt: number;
  config: Record<string, unknown>;
  input: unknown;
  leaseSeconds: number;
  token: string;
  /** When the task became ready (ms since the epoch, database clock). */
  readyAt: number;
  /** With tracing on: W3C trace context naming the attempt's span, for the worker's own spans. */
  traceparent?: string;
}

/** How old this process's copy of remote definitions may be when a remote node executes. */
const REMOTE_TYPES_MAX_AGE_MS = 5000;

/**
 * The definition of a worker type. Remote types are reloaded when this process has not seen the
 * type, or its copy is older than REMOTE_TYPES_MAX_AGE_MS (a worker may have re-announced it).
 */
export async function findWorkerDefinition(type: string): Promise<WorkerDefinition | undefined> {
  const known = getWorkerDefinition(type);
  if (known && (workerRegistry.has(type) || remoteTypesAgeMs() < REMOTE_TYPES_MAX_AGE_MS)) return known;
  await refreshRemoteTypes();
  return getWorkerDefinition(type);
}

/** The hook in `stitch_execute`: the attempt of a remote-type node becomes a task. */
export async function enqueueRemoteTask(node: ExecutionNode, definition: WorkerDefinition, ref: NodeRef, input: unknown): Promise<boolean> {
  const remote = getRemoteType(node.workerType!)!;
  const timeout = node.timeoutSeconds ?? definition.timeoutSeconds ?? DEFAULT_TIMEOUT_SECONDS;
  return enqueueTask(getPool(), ref, {
    inputJson: JSON.stringify(input ?? null),
    type: node.workerType!,
    configJson: JSON.stringify({ ...definition.config, ...node.config }),
    leaseSeconds: remote.leaseSeconds,
    timeoutSeconds: timeout,
  });
}

/**
 * Claim up to `max` ready tasks of `types` for `workerId`. Rows whose node moved on (run cancelled
 * or failed, attempt superseded) are marked stale instead of handed out. Each claimed task gets a
 * lease job at the end of its lease.
 */
export async function claimRemoteTasks(workerId: string, types: string[], max: number): Promise<RemoteTask[]> {
  const rows = await claimTasks(getPool(), workerId, types, max);
  return rows.map((r) => ({
    taskId: r.id,
    type: r.type,
    runId: r.runId,
    nodeId: r.instanceId,
    attempt: r.attempt,
    config: r.config,
    input: r.input,
    leaseSeconds: r.leaseSeconds,
    token: createCallbackToken(r.runId, r.instanceId, r.attempt, (r.deadlineAt.getTime() - Date.now()) / 1000 + TOKEN_GRACE_SECONDS),
    readyAt: r.readyAt,
    ...(tracingOn() ? { traceparent: traceparentOf(r.runId, attemptSpanIdOf({ runId: r.runId, instanceId: r.instanceId, attempt: r.attempt })) } : {}),
  }));
}

/**
 * The `stitch_remote_lease` job, due at a lease's end (and at the node's timeout): expire the
 * task if nobody extended it and fail its attempt; if a heartbeat extended it, come back then.
 */
export async function remoteLeaseJob(payload: { t: string }): Promise<void> {
  // Look first, fail the attempt, and only then mark the task expired: a retry of this job after a
  // lost connection finds the task still live and fails the attempt again, which the attempt rule
  // makes a no-op if the first try got through. Marking first would strand the node running.
  const expired = await findExpiredRemoteTask(getPool(), payload.t);
  if (!expired) {
    // Extended by heartbeats: look again when the lease now ends.
    await rescheduleLeaseJob(getPool(), payload.t);
    return;
  }
  const ref: NodeRef = { runId: expired.runId, versionId: expired.versionId, instanceId: expired.instanceId, attempt: expired.attempt };
  const timeout = Math.round(expired.timeoutSeconds);
  const reason =
    expired.was === 'ready'
      ? `No remote worker for "${expired.type}" took the task within the node's ${timeout}s timeout`
      : expired.pastDeadline
        ? `Remote worker ${expired.workerId} did not finish within the node's ${timeout}s timeout`
        : `Remote worker ${expired.workerId} stopped renewing its lease (no heartbeat): the task goes to another worker`;
  getLogger().warn({ runId: ref.runId, nodeId: ref.instanceId, attempt: ref.attempt, worker: expired.workerId }, reason);
  // Guarded like every node job: a failure policy that throws still ends the run.
  await guardJob('stitch_remote_lease', ref, async () => {
    await failAttempt(await getExecutionGraph(ref.versionId), ref, new Error(reason));
  });
  await markRemoteTaskExpired(getPool(), payload.t);
}

/**
 * Every run ends (design §9). Whatever a queue job throws outside a worker's own error path — a
 * setting that makes SQL overflow, a NaN backoff, a stack overflow evaluating a condition — ends the
 * node's attempt as `failed` (message prefixed `internal_error:`) and the run follows the node's
 * failure policy (continueOnError, collected item error, or the run fails). Only infrastructure
 * faults (connection loss, server restart, lock conflicts) are thrown on to the queue, whose retry
 * runs the job again later; a worker is never called again for anything else.
 */
import type { ExecutionGraph } from '@/types/stitch';
import { NonRetriableError, coerceError } from '@/lib/errors';
import { getPool } from '@/lib/db/pool';
import { runVersionOf } from '@/lib/db/queries/node-attempt';
import { isInfrastructureError } from '@/lib/db/transient';
import { getLogger } from '@/lib/log';
import { failAttempt } from './complete-node';
import { getExecutionGraph } from './graph-cache';
import { abortRun, type NodeRef } from './transitions';

/** The node attempt a job works on; `versionId` is looked up when the payload lacks it. */
export interface GuardedAttempt {
  runId: string;
  instanceId: string;
  attempt: number;
  versionId?: string;
}

export async function guardJob(job: string, attempt: GuardedAttempt, run: () => Promise<void>): Promise<void> {
  try {
    await run();
  } catch (thrown) {
    if (isInfrastructureError(thrown)) throw thrown;
    const error = coerceError(thrown);
    getLogger().error({ job, runId: attempt.runId, nodeId: attempt.instanceId, attempt: attempt.attempt, error }, 'queue job failed outside the worker; failing the node');
    await failInternally(job, attempt, error);
  }
}

async function failInternally(job: string, attempt: GuardedAttempt, error: Error): Promise<void> {
  const versionId = attempt.versionId ?? (await runVersionOf(getPool(), attempt.runId));
  if (!versionId) return; // the run is gone: nothing to end
  const graph = await getExecutionGraph(versionId);
  const ref: NodeRef = { runId: attempt.runId, versionId, instanceId: attempt.instanceId, attempt: attempt.attempt };
  const failure = new NonRetriableError(`internal_error: ${error.message || error.name} (in the ${job} job)`, { code: 'internal_error', cause: error });
  try {
    await failAttempt(graph, ref, failure);
  } catch (second) {
    if (isInfrastructureError(second)) throw second;
    // The failure policy itself threw (e.g. a broken setting read on that path): end the run.
    await failRun(graph, ref, failure);
  }
}

async function failRun(graph: ExecutionGraph, ref: NodeRef, failure: Error): Promise<void> {
  await abortRun(graph, ref.runId, 'failed', `Node ${ref.instanceId} failed: ${failure.message}`, {
    instanceId: ref.instanceId,
    attempt: ref.attempt,
    error: failure.message,
  });
}

/**
 * The attempt a worker is executing, carried through its awaits (and timers) with AsyncLocalStorage.
 * It lets the seed's two-argument helpers — `buildCallbackUrl(runId, nodeId)`,
 * `triggerCallback(runId, nodeId, …)` — bind their token and completion to the right attempt.
 */
import { AsyncLocalStorage } from 'node:async_hooks';

export interface ExecutionContext {
  runId: string;
  versionId: string;
  /** The node instance id the worker was given as `nodeId`. */
  instanceId: string;
  attempt: number;
  workerType?: string;
  /** The merged, validated input (stored with the completion). */
  input: unknown;
  startedAt: Date;
  /** Completions this attempt reported through `triggerCallback` (sync workers must report one). */
  callbacks: number;
  /** Callback deadline of this attempt, for token expiry. */
  deadlineSeconds?: number;
  /**
   * The graphile-worker job executing this attempt: completed in the same commit as the node, so
   * the queue's own completion afterwards writes nothing (one durable commit per hop saved).
   */
  jobId?: string;
}

export const executionContext = new AsyncLocalStorage<ExecutionContext>();

/** The current attempt if it is the one for (runId, nodeId). */
export function currentAttemptFor(runId: string, nodeId: string): ExecutionContext | undefined {
  const ctx = executionContext.getStore();
  return ctx && ctx.runId === runId && ctx.instanceId === nodeId ? ctx : undefined;
}

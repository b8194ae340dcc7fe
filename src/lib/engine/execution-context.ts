/**
 * The attempt a worker is executing, carried through its awaits (and timers) with AsyncLocalStorage.
 * It lets the seed's two-argument helpers — `buildCallbackUrl(runId, nodeId)`,
 * `triggerCallback(runId, nodeId, …)` — bind their token and completion to the right attempt.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { NodeStateUpdate, WorkerCallback } from '@/types/stitch';
import type { ClaimBox } from './claims';

/**
 * Test seam (used only by `src/lib/workers/testing.ts`): when an attempt carries a harness, the
 * worker SDK reports to it instead of the engine and database — `triggerCallback`,
 * `updateNodeState`, `scheduleCallback`, `buildCallbackUrl` and `logWorker` check it first.
 * The engine never sets it.
 */
export interface HarnessSink {
  complete(runId: string, nodeId: string, callback: WorkerCallback): Promise<void>;
  updateNodeState(runId: string, nodeId: string, state: NodeStateUpdate): Promise<void>;
  scheduleCallback(runId: string, nodeId: string, callback: WorkerCallback, delaySeconds: number): Promise<void>;
  callbackUrl(url: string): void;
  log(level: string, message: string, context: Record<string, unknown>): void;
  reportUsage?(runId: string, nodeId: string, usage: Array<{ unit: string; quantity: number; mock?: boolean }>): Promise<void>;
}

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
  /** Eager dispatch: the completion may claim one cheap successor for this runner (claims.ts). */
  claim?: ClaimBox;
  /** Set only by the worker test harness (see HarnessSink). */
  harness?: HarnessSink;
}

export const executionContext = new AsyncLocalStorage<ExecutionContext>();

/** The current attempt if it is the one for (runId, nodeId). */
export function currentAttemptFor(runId: string, nodeId: string): ExecutionContext | undefined {
  const ctx = executionContext.getStore();
  return ctx && ctx.runId === runId && ctx.instanceId === nodeId ? ctx : undefined;
}

/** The test harness of the current attempt, if a test is running the worker (see HarnessSink). */
export function currentHarness(): HarnessSink | undefined {
  return executionContext.getStore()?.harness;
}

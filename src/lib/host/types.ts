/**
 * The worker host contract: the one way a worker reaches whoever runs it. The seed's helpers
 * (`triggerCallback`, `updateNodeState`, `scheduleCallback`, `reportUsage`, `buildCallbackUrl`,
 * `logWorker`) are thin delegates to the current host (./current.ts). Implementations:
 *
 * - the engine's (src/lib/engine/engine-host.ts): one per attempt, installed by execute-node around
 *   `execute`, and a process default installed by `startStitch`;
 * - the worker test harness's (src/lib/workers/testing.ts): records everything, touches nothing;
 * - the HTTP host (./http-host.ts): code outside a Stitch process POSTs to the callback URL;
 * - the remote runner's (src/cli/remote/remote-runner.ts): a pulled task reports over the protocol.
 *
 * `src/lib/host` is a leaf: `db`, `engine` and `workers` import it; it imports none of them.
 */
import type { NodeStateUpdate, StreamChunk, WorkerCallback } from '@/types/stitch';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface CompletionResult {
  ok: true;
  duplicate?: boolean;
}

export interface UsageItem {
  /** The unit the vendor bills: `input_tokens`, `output_tokens`, `characters`, `video_seconds`, … */
  unit: string;
  quantity: number;
  /** Reported by a mock: what the real call would have used. Priced all the same, and flagged. */
  mock?: boolean;
}

/** The node attempt a host serves (the one whose `execute` or `poll` is running). */
export interface HostAttempt {
  runId: string;
  /** The node instance id the worker was given as `nodeId`. */
  instanceId: string;
  attempt: number;
  workerType?: string;
  /** Callback deadline of this attempt (async workers), for callback-token expiry. */
  deadlineSeconds?: number;
}

export interface WorkerHost {
  /** The attempt this host was made for; absent for a process-wide host. */
  readonly current?: HostAttempt;
  /** Settle the node with a result. A refusal because the node moved on throws a ConflictError. */
  complete(runId: string, nodeId: string, callback: WorkerCallback): Promise<CompletionResult>;
  /** Store progress or intermediate state of a `running` node (the delegate settles `completed`/`failed` through `complete`). */
  updateNodeState(runId: string, nodeId: string, state: NodeStateUpdate): Promise<void>;
  /** Usage lines, already checked (`checkUsage`). */
  reportUsage(runId: string, nodeId: string, usage: UsageItem[]): Promise<void>;
  scheduleCallback(runId: string, nodeId: string, callback: WorkerCallback, delaySeconds: number, attempt?: number): Promise<void>;
  /**
   * Streamed partial output of the attempt (a checked chunk, see `checkChunk`): queued and sent,
   * coalesced, to whoever follows the run; never stored. Throws only when the attempt is unknown.
   */
  stream(runId: string, nodeId: string, chunk: StreamChunk): void;
  callbackUrl(runId: string, nodeId: string, attempt?: number): string;
  log(level: LogLevel, message: string, context: Record<string, unknown>): void;
}

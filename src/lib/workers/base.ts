/**
 * The worker contract. A worker is a class with a no-argument constructor (it decides mock mode
 * from `getConfig()` there) and an `execute` the queue runner calls once per attempt.
 */
import type { NodeConfig, WorkerCallback } from '@/types/stitch';

/** What `poll` reports when a callback deadline passes without a callback. */
export type PollResult = WorkerCallback | { status: 'running'; extendSeconds?: number };

export interface IWorker {
  /**
   * Do the work for one node instance. `nodeId` is the instance id (a splitter item's instance is
   * `node[3]`); pass it unchanged to `triggerCallback` / `buildCallbackUrl` / `updateNodeState`.
   *
   * - sync workers call `triggerCallback(runId, nodeId, …)` before returning;
   * - async workers hand a vendor `buildCallbackUrl(runId, nodeId)`, store their input with
   *   `updateNodeState(runId, nodeId, { status: 'running', output: input })` and return.
   *
   * Throwing fails the attempt (retried per the definition's policy).
   */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the seed's signature: input is free-form JSON
  execute(runId: string, nodeId: string, config: NodeConfig, input: any): Promise<void>;

  /**
   * Optional, async workers: asked when the callback deadline passes without a callback.
   * `stored` is what the worker stored with `updateNodeState` (e.g. the vendor's task id).
   */
  poll?(runId: string, nodeId: string, config: NodeConfig, stored: unknown): Promise<PollResult>;

  /**
   * Optional, async workers: turn a vendor's own callback payload into Stitch's
   * `{status, output?, error?}`. Return `{ reply }` to answer a vendor handshake without settling;
   * add `pollNow: true` when the payload says the result is ready but does not carry it (a webhook
   * with only the job id): the engine then runs this node's `poll()` now (for this node and
   * attempt only). It may be async; the callback route awaits it. An exception means the body
   * was not understood (400), except a rejection of an async adapter that is not a
   * `ValidationError` (say, a lookup at the vendor failed): that is 503, so the vendor retries.
   */
  parseCallback?(body: unknown, headers: Record<string, string>): ParsedCallback | Promise<ParsedCallback>;
}

/** What a callback adapter makes of a vendor's payload: a result, or a reply that settles nothing. */
export type ParsedCallback = WorkerCallback | CallbackReply;

/** A worker class as registered: constructed once per process, on first use. */
export type WorkerClass = new () => IWorker;

/** A callback adapter's answer that settles nothing (see `IWorker.parseCallback`). */
export interface CallbackReply {
  reply: unknown;
  /** Run the node's `poll()` now instead of at its deadline. */
  pollNow?: boolean;
}

/**
 * The engine's worker host (src/lib/host/types.ts). `startStitch` installs one `EngineHost` as the
 * process default (code outside an attempt: a `parseCallback`, a test, a script in the server
 * process); execute-node and the deadline poll install an `AttemptHost` per attempt, which carries
 * what the attempt already knows (ids, attempt, input, start time, queue job, eager-dispatch claim)
 * so its completion settles without reading anything back.
 */
import type { NodeStateUpdate, StreamChunk, WorkerCallback } from '@/types/stitch';
import { storeNodeState } from '@/lib/db/runs';
import { attemptFor, requireAttempt, signedCallbackUrl } from '@/lib/host/attempt';
import type { CompletionResult, HostAttempt, LogLevel, UsageItem, WorkerHost } from '@/lib/host/types';
import type { Runtime } from '@/lib/runtime';
import { recordUsage } from '@/lib/usage/report';
import { streamRelay } from '@/lib/live/stream-relay';
import { completeAttempt, completeNode, type KnownAttempt } from './complete-node';
import { addScheduledCallback } from './scheduled-callback';
import { fromWorker } from './worker-edge';

export class EngineHost implements WorkerHost {
  readonly current?: HostAttempt;

  constructor(readonly runtime: Runtime) {}

  complete(runId: string, nodeId: string, callback: WorkerCallback): Promise<CompletionResult> {
    // Not an attempt this host knows (an AttemptHost handles its own): the stored attempt decides.
    return completeNode({ runId, instanceId: nodeId, ...callback });
  }

  async updateNodeState(runId: string, nodeId: string, state: NodeStateUpdate): Promise<void> {
    await storeNodeState(this.runtime.pool, runId, nodeId, attemptFor(this, runId, nodeId)?.attempt ?? null, fromWorker(state));
  }

  reportUsage(runId: string, nodeId: string, usage: UsageItem[]): Promise<void> {
    const known = attemptFor(this, runId, nodeId);
    return recordUsage(this.runtime.pool, runId, nodeId, fromWorker(usage), { workerType: known?.workerType, attempt: known?.attempt });
  }

  scheduleCallback(runId: string, nodeId: string, callback: WorkerCallback, delaySeconds: number, attempt?: number): Promise<void> {
    const known = requireAttempt(this, 'scheduleCallback', runId, nodeId, attempt);
    // Its payload waits in a queue job: scrubbed now, not when it is delivered.
    return addScheduledCallback(this.runtime.pool, runId, nodeId, known, fromWorker(callback), delaySeconds);
  }

  callbackUrl(runId: string, nodeId: string, attempt?: number): string {
    return signedCallbackUrl(this.runtime.config.baseUrl, this, runId, nodeId, attempt);
  }

  stream(runId: string, nodeId: string, chunk: StreamChunk): void {
    streamRelay().chunk({ runId, instanceId: nodeId, attempt: requireAttempt(this, 'streamOutput', runId, nodeId) }, chunk);
  }

  log(level: LogLevel, message: string, context: Record<string, unknown>): void {
    this.runtime.logger[level](context, message);
  }
}

/** What an attempt knows beyond its ids: stored with its completion, so nothing is read back. */
export type AttemptFacts = Omit<KnownAttempt, 'runId' | 'instanceId' | 'attempt'>;

export class AttemptHost extends EngineHost {
  /** Completions the worker reported for its own node (a sync worker must report one). */
  completions = 0;
  /** The worker streamed output for its own node. */
  #streamed = false;

  constructor(
    runtime: Runtime,
    readonly current: HostAttempt,
    private readonly facts: AttemptFacts,
  ) {
    super(runtime);
  }

  override async complete(runId: string, nodeId: string, callback: WorkerCallback): Promise<CompletionResult> {
    if (!attemptFor(this, runId, nodeId)) return super.complete(runId, nodeId, callback);
    this.completions += 1;
    await this.endStream(); // what was streamed goes out before the node's completion
    return completeAttempt({ ...this.current, ...this.facts }, callback);
  }

  override stream(runId: string, nodeId: string, chunk: StreamChunk): void {
    if (attemptFor(this, runId, nodeId)) this.#streamed = true;
    super.stream(runId, nodeId, chunk);
  }

  /** Send what this attempt streamed and forget its stream (its result is known, or it failed). */
  async endStream(): Promise<void> {
    if (this.#streamed) await streamRelay().settle(this.current);
  }
}

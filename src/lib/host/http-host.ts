/**
 * The host for worker code outside a Stitch process (a script, a service of its own): a result
 * is POSTed to the node's callback URL, signed with STITCH_SECRET for STITCH_BASE_URL, exactly as
 * a vendor would. What only an engine can do (store progress, schedule a durable callback, record
 * usage) is refused with a message that says so.
 */
import type { NodeStateUpdate, StreamChunk, WorkerCallback } from '@/types/stitch';
import { getConfig } from '@/lib/config';
import { ConflictError } from '@/lib/errors';
import { getLogger } from '@/lib/log';
import { attemptFor, requireAttempt, signedCallbackUrl, signedStreamUrl } from './attempt';
import { StreamBatcher, streamKey, streamRefOf, type StreamParts } from './stream-batcher';
import type { CompletionResult, HostAttempt, LogLevel, UsageItem, WorkerHost } from './types';

const needsEngine = (what: string) => new Error(`${what} needs a Stitch engine in this process`);

export class HttpWorkerHost implements WorkerHost {
  #streams: StreamBatcher | undefined;

  /** `current`: the attempt this code reports for (known from the task it was handed). */
  constructor(readonly current?: HostAttempt) {}

  /** Streamed parts go to `POST /api/stitch/stream/…?token=` (the callback's token), coalesced. */
  stream(runId: string, nodeId: string, chunk: StreamChunk): void {
    const attempt = requireAttempt(this, 'streamOutput', runId, nodeId);
    this.#streams ??= new StreamBatcher((batch) => this.#postStreams(batch), {
      onSendError: (error) => getLogger().warn({ error: String(error) }, 'streamed output could not be posted; it is dropped (the final output is unaffected)'),
    });
    this.#streams.push(streamKey({ runId, instanceId: nodeId, attempt }), chunk);
  }

  async #postStreams(batch: StreamParts[]): Promise<void> {
    await Promise.all(
      batch.map(async ({ key, seq, parts }) => {
        const ref = streamRefOf(key);
        const response = await fetch(signedStreamUrl(getConfig().baseUrl, this, ref.runId, ref.instanceId, ref.attempt), {
          method: 'POST',
          headers: { 'Content-Type': 'application/json' },
          body: JSON.stringify({ seq, parts }),
        });
        if (!response.ok) throw new Error(`Stream POST failed with status ${response.status}: ${await response.text()}`);
      }),
    );
  }

  callbackUrl(runId: string, nodeId: string, attempt?: number): string {
    return signedCallbackUrl(getConfig().baseUrl, this, runId, nodeId, attempt);
  }

  async complete(runId: string, nodeId: string, callback: WorkerCallback): Promise<CompletionResult> {
    // What was streamed arrives before the result.
    const known = attemptFor(this, runId, nodeId);
    if (this.#streams && known) await this.#streams.end(streamKey({ runId, instanceId: nodeId, attempt: known.attempt }));
    const response = await fetch(this.callbackUrl(runId, nodeId), {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(callback),
    });
    if (response.status === 409) throw new ConflictError(`Node ${nodeId} of run ${runId} is no longer waiting for this attempt`);
    if (!response.ok) throw new Error(`Callback POST failed with status ${response.status}: ${await response.text()}`);
    return (await response.json()) as CompletionResult;
  }

  async updateNodeState(): Promise<void> {
    throw needsEngine("updateNodeState with status 'running'");
  }

  async reportUsage(_runId: string, _nodeId: string, _usage: UsageItem[]): Promise<void> {
    throw needsEngine('reportUsage');
  }

  async scheduleCallback(): Promise<void> {
    throw needsEngine('scheduleCallback');
  }

  log(level: LogLevel, message: string, context: Record<string, unknown>): void {
    getLogger()[level](context, message);
  }
}

/**
 * The host for worker code outside a Stitch process (a script, a service of its own): a result
 * is POSTed to the node's callback URL, signed with STITCH_SECRET for STITCH_BASE_URL, exactly as
 * a vendor would. What only an engine can do (store progress, schedule a durable callback, record
 * usage) is refused with a message that says so.
 */
import type { NodeStateUpdate, WorkerCallback } from '@/types/stitch';
import { getConfig } from '@/lib/config';
import { ConflictError } from '@/lib/errors';
import { getLogger } from '@/lib/log';
import { signedCallbackUrl } from './attempt';
import type { CompletionResult, HostAttempt, LogLevel, UsageItem, WorkerHost } from './types';

const needsEngine = (what: string) => new Error(`${what} needs a Stitch engine in this process`);

export class HttpWorkerHost implements WorkerHost {
  /** `current`: the attempt this code reports for (known from the task it was handed). */
  constructor(readonly current?: HostAttempt) {}

  callbackUrl(runId: string, nodeId: string, attempt?: number): string {
    return signedCallbackUrl(getConfig().baseUrl, this, runId, nodeId, attempt);
  }

  async complete(runId: string, nodeId: string, callback: WorkerCallback): Promise<CompletionResult> {
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

/**
 * Workers for the HTTP tests: a sync echo, an async "vendor" that hands out its callback URL, a
 * vendor with a callback adapter (handshake + its own payload shape), and one that always fails.
 */
import type { NodeConfig } from '@/types/stitch';
import type { IWorker } from '@/lib/workers/base';
import { buildCallbackUrl } from '@/lib/workers/utils';
import { updateNodeState } from '@/lib/db/runs';
import { graph, registerTestWorker, syncWorker } from '../helpers';

/** Callback URLs handed out by the async test workers, by `${runId}/${instanceId}`. */
export const callbackUrls = new Map<string, string>();

class VendorWorker implements IWorker {
  async execute(runId: string, nodeId: string, _config: NodeConfig, input: unknown) {
    callbackUrls.set(`${runId}/${nodeId}`, buildCallbackUrl(runId, nodeId));
    await updateNodeState(runId, nodeId, { status: 'running', output: input });
  }
}

/** Speaks a vendor dialect: `{challenge}` handshakes, `{task: {state, result}}` results. */
class AdapterWorker extends VendorWorker {
  parseCallback(body: unknown) {
    const b = body as { challenge?: string; task?: { state?: string; result?: unknown; reason?: string } };
    if (typeof b.challenge === 'string') return { reply: { challenge: b.challenge } };
    if (b.task?.state === 'done') return { status: 'completed' as const, output: { result: b.task.result } };
    if (b.task?.state === 'error') return { status: 'failed' as const, error: b.task.reason ?? 'vendor error' };
    throw new Error('unknown vendor payload');
  }
}

/**
 * A vendor whose webhook carries only the job id (`{job_id, status}`): an async adapter that asks
 * for `poll()` now, and a poll that fetches the result. `{lookup: 'fails'}` makes the adapter's own
 * work fail (a 503 for the vendor to retry).
 */
class IdOnlyWebhookWorker extends VendorWorker {
  async parseCallback(body: unknown) {
    const b = body as { job_id?: string; status?: string; lookup?: string };
    await new Promise((resolve) => setImmediate(resolve));
    if (b.lookup === 'fails') throw new Error('the vendor lookup timed out');
    if (b.status === 'error') return { status: 'failed' as const, error: `job ${b.job_id} failed` };
    return { reply: { received: b.job_id }, pollNow: true };
  }
  async poll(_runId: string, _nodeId: string, _config: NodeConfig, stored: unknown) {
    return { status: 'completed' as const, output: { text: `result for ${(stored as { topic?: string }).topic}` } };
  }
}

export function registerHttpTestWorkers(): void {
  registerTestWorker('echo', syncWorker((input) => ({ ...input, echoed: true })));
  registerTestWorker('vendor', VendorWorker, { type: 'async', retry: { attempts: 1 } });
  registerTestWorker('adapter', AdapterWorker, { type: 'async', retry: { attempts: 1 } });
  registerTestWorker('id-only', IdOnlyWebhookWorker, { type: 'async', retry: { attempts: 1 } });
  registerTestWorker(
    'boom',
    syncWorker(() => {
      throw new Error('boom');
    }),
    { retry: { attempts: 1 } },
  );
}

/** start → <workerType> → end */
export function oneWorkerGraph(workerType: string, config: NodeConfig = {}) {
  return graph(['s:start', { id: 'w', workerType, config }, 'e:end'], [['s', 'w'], ['w', 'e']]);
}

/** The callback URL's path and query, to send to the test server. */
export function callbackPath(runId: string, instanceId: string): string {
  const url = callbackUrls.get(`${runId}/${instanceId}`);
  if (!url) throw new Error(`no callback URL for ${runId}/${instanceId}`);
  const u = new URL(url);
  return u.pathname + u.search;
}

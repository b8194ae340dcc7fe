/**
 * The `stitch_deadline` job: an async attempt's callback did not arrive in time. The worker's
 * `poll()` (if it has one) asks the vendor; otherwise the attempt fails with a message naming the
 * deadline (and is retried per policy).
 */
import { coerceError } from '@/lib/errors';
import { getPool } from '@/lib/db/pool';
import { extendDeadline, moveDeadlineToNow } from '@/lib/db/queries/deadlines';
import { readNodeAttempt } from '@/lib/db/queries/node-attempt';
import { getLogger } from '@/lib/log';
import { DEFAULT_TIMEOUT_SECONDS, getWorkerDefinition } from '@/lib/workers/registry';
import { applyCallback, failAttempt } from './complete-node';
import { runWithHost } from '@/lib/host/current';
import type { Runtime } from '@/lib/runtime';
import { AttemptHost } from './engine-host';
import { getExecutionGraph } from './graph-cache';
import { fromWorker } from './worker-edge';
import { parseInstanceId } from './instances';
import type { ExecutePayload } from './execute-payload';

export async function deadlineJob(runtime: Runtime, payload: ExecutePayload): Promise<void> {
  const state = await readNodeAttempt(runtime.pool, payload.r, payload.i, true);
  if (!state || state.runStatus !== 'running' || state.status !== 'running' || state.attempt !== payload.a) return;
  // A poll that said "still running" moved the deadline; an earlier job for it is then stale.
  if (state.deadlineAt && new Date(state.deadlineAt).getTime() > Date.now() + 500) return;

  const graph = await getExecutionGraph(payload.v);
  const node = graph.nodes[parseInstanceId(payload.i).nodeId];
  const ref = { runId: payload.r, versionId: payload.v, instanceId: payload.i, attempt: payload.a };
  const type = node.workerType!;
  const worker = runtime.registry.getWorker(type);
  const definition = getWorkerDefinition(type);
  const timeout = node.timeoutSeconds ?? definition?.timeoutSeconds ?? DEFAULT_TIMEOUT_SECONDS;
  const deadlineText = `${timeout}s callback deadline (${new Date(state.deadlineAt!).toISOString()})`;

  if (!worker.poll) {
    await failAttempt(graph, ref, new Error(`No callback arrived within the ${deadlineText}`), { input: state.input });
    return;
  }
  try {
    const config = { ...definition?.config, ...node.config };
    const host = new AttemptHost(
      runtime,
      { runId: ref.runId, instanceId: ref.instanceId, attempt: ref.attempt, workerType: type, deadlineSeconds: timeout },
      { versionId: ref.versionId, input: state.input, startedAt: state.startedAt! }, // set when the attempt went running
    );
    const result = await runWithHost(host, () => worker.poll!(ref.runId, ref.instanceId, config, state.output));
    if (result.status === 'running') {
      const extend = result.extendSeconds ?? timeout;
      await extendDeadline(runtime.pool, ref, extend);
      return;
    }
    // A vendor's answer may quote the key it was called with: a report like any other.
    await applyCallback(graph, ref, fromWorker(result), {});
  } catch (error) {
    const e = coerceError(error);
    getLogger().warn({ runId: ref.runId, nodeId: ref.instanceId, error: e.message }, 'poll after callback deadline failed');
    await failAttempt(graph, ref, new Error(`No callback within the ${deadlineText}, and polling failed: ${e.message}`));
  }
}

/**
 * Run one node attempt's `poll()` now rather than at its deadline (a vendor said "done" without the
 * result): its deadline moves to now and its keyed deadline job is replaced by one due now. Only
 * the node the callback was signed for — never another run's node.
 */
export async function pollNow(runId: string, instanceId: string, attempt: number): Promise<boolean> {
  return moveDeadlineToNow(getPool(), runId, instanceId, attempt);
}

/**
 * Run and node-instance state as workers and readers see it. `updateNodeState` is the seed's
 * progress/intermediate-state call; final states go through the engine's one completion path.
 */
import type pg from 'pg';
import type { NodeRunRow, NodeStateUpdate, RunRow, StitchEvent } from '@/types/stitch';
import { ConflictError, NotFoundError } from '@/lib/errors';
import { currentHost } from '@/lib/host/current';
import { getLogger } from '@/lib/log';
import { getPool } from './pool';
import { readEventsAfter } from './queries/events';
import { readNodeRunRows, readRunRow, updateNodeStateRow } from './queries/runs';
import { isUuid, toNodeRunRow, toRunRow } from './rows';
import { retryTransient } from './transient';

// The run-id check lives in rows.ts; callers of this module import it from here too.
export { isUuid } from './rows';

/**
 * Store intermediate state for a running node: `output` (an async worker's input, kept for merging
 * with the callback), `metadata.progress` (0..1) and `metadata.message`. `completed`/`failed`
 * settle the node exactly as `triggerCallback` does. Refused (ConflictError) when the node is
 * not running. A delegate to the current worker host (src/lib/host): the engine stores it with
 * `storeNodeState`, the test harness records it.
 */
export async function updateNodeState(runId: string, nodeId: string, state: NodeStateUpdate): Promise<void> {
  const host = currentHost();
  // The SDK's rule, the same whichever host serves the worker: the final states are a completion.
  if (state.status === 'completed' || state.status === 'failed') {
    await host.complete(runId, nodeId, { status: state.status, output: state.output, error: state.error });
    return;
  }
  if (state.status !== 'running') {
    throw new ConflictError(`updateNodeState: a worker may only set status 'running', 'completed' or 'failed', not '${state.status}'`);
  }
  await host.updateNodeState(runId, nodeId, state);
}

/**
 * The engine's write behind `updateNodeState(…, {status: 'running', …})`, of a state that passed
 * the engine's worker edge (engine/worker-edge.ts: no vault value). Every state write names its
 * attempt when it is known (design §9): a late write of attempt N never touches N+1.
 */
export async function storeNodeState(pool: pg.Pool, runId: string, nodeId: string, attempt: number | null, state: NodeStateUpdate): Promise<void> {
  const progress = typeof state.metadata?.progress === 'number' ? Math.min(1, Math.max(0, state.metadata.progress)) : null;
  const r = await retryTransient('updateNodeState', () =>
    updateNodeStateRow(pool, {
      runId,
      instanceId: nodeId,
      attempt,
      setOutput: state.output !== undefined,
      outputJson: JSON.stringify(state.output ?? null),
      progress,
      metadataJson: JSON.stringify(state.metadata ?? {}),
      message: typeof state.metadata?.message === 'string' ? state.metadata.message : null,
    }),
  );
  if (r.ok) return;
  if (attempt !== null && r.found && r.attempt !== attempt) {
    // A stale write: refused, logged, never applied. The worker's own attempt is over.
    getLogger().warn({ runId, nodeId, attempt, currentAttempt: r.attempt, status: r.status }, 'stale state write refused (attempt moved on)');
    return;
  }
  throw new ConflictError(`Node ${nodeId} of run ${runId} is not running: its state was not updated`);
}

export async function getRun(runId: string): Promise<RunRow> {
  if (!isUuid(runId)) throw new NotFoundError(`Run ${runId}`);
  const row = await readRunRow(getPool(), runId);
  if (!row) throw new NotFoundError(`Run ${runId}`);
  return toRunRow(row);
}

export async function getNodeRuns(runId: string): Promise<NodeRunRow[]> {
  return (await readNodeRunRows(getPool(), runId)).map(toNodeRunRow);
}

/**
 * A run with its node instances keyed by instance id (the status API's body), and the UX gates
 * waiting for a human, so a caller sees at once that the run needs an answer.
 */
export async function getRunWithNodes(runId: string) {
  const run = await getRun(runId);
  const nodes = await getNodeRuns(runId);
  return {
    ...run,
    // Keyed by instance id; each entry is the row without the keys it is filed under.
    nodes: Object.fromEntries(nodes.map(({ runId: _runId, instanceId, ...state }) => [instanceId, state])),
    waitingFor: nodes
      .filter((n) => n.status === 'waiting_for_user')
      .map((n) => ({
        instanceId: n.instanceId,
        prompt: n.metadata.prompt ?? null,
        inputSchema: n.metadata.inputSchema ?? null,
        input: n.input,
        deadlineAt: n.deadlineAt,
      })),
  };
}

export function getRunEvents(runId: string, afterId = 0, limit = 1000): Promise<StitchEvent[]> {
  return readEventsAfter(getPool(), runId, afterId, limit);
}

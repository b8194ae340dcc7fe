/**
 * Run and node-instance state as workers and readers see it. `updateNodeState` is the seed's
 * progress/intermediate-state call; final states go through the engine's one completion path.
 */
import type pg from 'pg';
import { scrubSecrets, scrubSecretsDeep } from '@/lib/vault/values';
import type { NodeRunRow, NodeStateUpdate, RunRow, StitchEvent } from '@/types/stitch';
import { ConflictError, NotFoundError } from '@/lib/errors';
import { currentHost } from '@/lib/host/current';
import { getLogger } from '@/lib/log';
import { getPool } from './pool';
import { retryTransient } from './transient';

/**
 * Store intermediate state for a running node: `output` (an async worker's input, kept for merging
 * with the callback), `metadata.progress` (0..1) and `metadata.message`. `completed`/`failed`
 * settle the node exactly as `triggerCallback` does. Refused (ConflictError) when the node is
 * not running. A delegate to the current worker host (src/lib/host): the engine stores it with
 * `storeNodeState`, the test harness records it.
 */
export function updateNodeState(runId: string, nodeId: string, state: NodeStateUpdate): Promise<void> {
  return currentHost().updateNodeState(runId, nodeId, state);
}

/**
 * The engine's write behind `updateNodeState(…, {status: 'running', …})`. Every state write names
 * its attempt when it is known (design §9): a late write of attempt N never touches N+1.
 */
export async function storeNodeState(pool: pg.Pool, runId: string, nodeId: string, attempt: number | null, state: NodeStateUpdate): Promise<void> {
  if (state.status !== 'running') {
    throw new ConflictError(`updateNodeState: a worker may only set status 'running', 'completed' or 'failed', not '${state.status}'`);
  }
  const progress = typeof state.metadata?.progress === 'number' ? Math.min(1, Math.max(0, state.metadata.progress)) : null;
  const { rows } = await retryTransient('updateNodeState', () =>
    pool.query<{ r: { ok: boolean; found?: boolean; attempt?: number; status?: string; runStatus?: string } }>(
      'SELECT stitch_update_node_state($1, $2, $3, $4, $5::jsonb, $6, $7::jsonb, $8) AS r',
      [
        runId,
        nodeId,
        attempt,
        state.output !== undefined,
        // Progress, like results, never carries a vault value (the final states go through completeNode).
        JSON.stringify(scrubSecretsDeep(state.output ?? null)),
        progress,
        JSON.stringify(scrubSecretsDeep(state.metadata ?? {})),
        typeof state.metadata?.message === 'string' ? scrubSecrets(state.metadata.message) : null,
      ],
    ),
  );
  const r = rows[0].r;
  if (r.ok) return;
  if (attempt !== null && r.found && r.attempt !== attempt) {
    // A stale write: refused, logged, never applied. The worker's own attempt is over.
    getLogger().warn({ runId, nodeId, attempt, currentAttempt: r.attempt, status: r.status }, 'stale state write refused (attempt moved on)');
    return;
  }
  throw new ConflictError(`Node ${nodeId} of run ${runId} is not running: its state was not updated`);
}

interface RunDbRow {
  id: string;
  flow_id: string | null;
  version_id: string;
  status: RunRow['status'];
  input: unknown;
  output: unknown;
  error: string | null;
  trigger: unknown;
  created_at: Date;
  started_at: Date | null;
  finished_at: Date | null;
  parent_run_id: string | null;
  parent_instance_id: string | null;
}

const iso = (d: Date | null) => (d ? d.toISOString() : null);

export function toRunRow(r: RunDbRow): RunRow {
  return {
    id: r.id,
    flowId: r.flow_id,
    versionId: r.version_id,
    status: r.status,
    input: r.input,
    output: r.output,
    error: r.error,
    trigger: r.trigger,
    createdAt: r.created_at.toISOString(),
    startedAt: iso(r.started_at),
    finishedAt: iso(r.finished_at),
    parentRunId: r.parent_run_id ?? null,
    parentInstanceId: r.parent_instance_id ?? null,
  };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export const isUuid = (value: string) => UUID.test(value);

export async function getRun(runId: string): Promise<RunRow> {
  if (!isUuid(runId)) throw new NotFoundError(`Run ${runId}`);
  const { rows } = await getPool().query<RunDbRow>('SELECT * FROM stitch_runs WHERE id = $1', [runId]);
  if (!rows[0]) throw new NotFoundError(`Run ${runId}`);
  return toRunRow(rows[0]);
}

export async function getNodeRuns(runId: string): Promise<NodeRunRow[]> {
  const { rows } = await getPool().query(
    `SELECT * FROM stitch_node_runs WHERE run_id = $1 ORDER BY created_at, instance_id`,
    [runId],
  );
  return rows.map((n) => ({
    runId: n.run_id,
    instanceId: n.instance_id,
    nodeId: n.node_id,
    status: n.status,
    attempt: n.attempt,
    input: n.input,
    output: n.output,
    error: n.error,
    progress: n.progress,
    metadata: n.metadata,
    startedAt: iso(n.started_at),
    finishedAt: iso(n.finished_at),
    deadlineAt: iso(n.deadline_at),
  }));
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

export interface EventDbRow {
  id: number;
  run_id: string;
  instance_id: string | null;
  type: StitchEvent['type'];
  payload: Record<string, unknown>;
  created_at: Date;
}

/** A `stitch_events` row as the API and SSE streams show it. */
export function toStitchEvent(e: EventDbRow): StitchEvent {
  return {
    id: e.id,
    runId: e.run_id,
    instanceId: e.instance_id,
    type: e.type,
    payload: e.payload,
    createdAt: e.created_at.toISOString(),
  };
}

export async function getRunEvents(runId: string, afterId = 0, limit = 1000): Promise<StitchEvent[]> {
  const { rows } = await getPool().query<EventDbRow>(
    `SELECT id, run_id, instance_id, type, payload, created_at FROM stitch_events
     WHERE run_id = $1 AND id > $2 ORDER BY id LIMIT $3`,
    [runId, afterId, limit],
  );
  return rows.map(toStitchEvent);
}

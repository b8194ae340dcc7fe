/**
 * The engine façade the server, CLI and tests call: start, cancel and retry runs.
 */
import type { RunStatus } from '@/types/stitch';
import { ConflictError, NotFoundError, ValidationError } from '@/lib/errors';
import { getPool } from '@/lib/db/pool';
import { retryTransient } from '@/lib/db/transient';
import { getRun, isUuid } from '@/lib/db/runs';
import { getExecutionGraph } from './graph-cache';
import { abortRun } from './transitions';

export type RunTarget = string | { flowId: string } | { versionId: string };

export interface StartRunOptions {
  input?: unknown;
  /** Who or what started the run (`{type:'api'}`, `{type:'webhook', slug}`, …). */
  trigger?: Record<string, unknown>;
  /**
   * The client's `Idempotency-Key`: a start with a key seen before (same scope) returns that run
   * (`duplicate: true`) when the request is the same, and is refused (409) when it differs.
   */
  idempotency?: { scope: string; key: string; requestHash: string };
  /** A sub-flow's child run: the parent node attempt that starts it (at most one child per attempt). */
  parent?: { runId: string; instanceId: string; attempt: number; depth: number };
  /** A re-run: the source run and the nodes it forces to execute (src/lib/rerun). */
  rerun?: { of: string; forced: string[] };
  /** Spend cap in USD; default: the flow's `budgetUsd`, if any (src/lib/budget). */
  budgetUsd?: number;
}

export interface StartedRun {
  runId: string;
  versionId: string;
  flowId: string | null;
  /** `running` for a new run; a duplicate (idempotency key) reports the earlier run's status now. */
  status: RunStatus;
  /** True when an idempotency key named a run started earlier: nothing new was started. */
  duplicate?: boolean;
  /** True when a child run for this parent attempt existed already (an execute job ran twice). */
  existing?: boolean;
}

async function resolveTarget(target: RunTarget): Promise<{ versionId: string; flowId: string | null }> {
  const pool = getPool();
  const flowId = typeof target === 'string' ? target : 'flowId' in target ? target.flowId : undefined;
  if (flowId !== undefined && isUuid(flowId)) {
    const { rows } = await pool.query(
      'SELECT id, current_version_id FROM stitch_flows WHERE id = $1 AND deleted_at IS NULL',
      [flowId],
    );
    if (rows[0]?.current_version_id) return { versionId: rows[0].current_version_id, flowId: rows[0].id };
  }
  const versionId = typeof target === 'string' ? target : 'versionId' in target ? target.versionId : undefined;
  if (versionId !== undefined && isUuid(versionId)) {
    const { rows } = await pool.query('SELECT id, flow_id FROM stitch_flow_versions WHERE id = $1', [versionId]);
    if (rows[0]) return { versionId: rows[0].id, flowId: rows[0].flow_id };
  }
  throw new NotFoundError(`Flow or version ${typeof target === 'string' ? target : JSON.stringify(target)}`);
}

/** Create a run of a flow's current version (or of a given version) and enqueue its entry nodes. */
export async function startRun(target: RunTarget, options: StartRunOptions = {}): Promise<StartedRun> {
  if (options.idempotency) {
    const earlier = await findIdempotentRun(options.idempotency);
    if (earlier) return earlier;
  }
  const { versionId, flowId } = await resolveTarget(target);
  const graph = await getExecutionGraph(versionId);
  const input = options.input === undefined ? {} : options.input;
  let inputJson: string;
  try {
    inputJson = JSON.stringify(input);
  } catch {
    throw new ValidationError('The run input must be JSON-serialisable');
  }
  const key = options.idempotency;
  const parent = options.parent;
  // One statement: the run, its entry instances, their jobs, the events and the idempotency key
  // commit together. Two concurrent starts with one key: the second fails on the key's primary key
  // and its run rolls back with it; it then answers with the first run. A child run that exists
  // already for its parent attempt inserts nothing (the unique parent index).
  try {
    const { rows } = await getPool().query<{ id: string }>(
      `WITH run AS (
         INSERT INTO stitch_runs (flow_id, version_id, status, input, trigger, started_at,
                                  parent_run_id, parent_instance_id, parent_attempt, depth, rerun_of, rerun, budget_usd)
         VALUES ($1, $2, 'running', $3::jsonb, $4::jsonb, now(), $9, $10, $11, $12, $13, $14::jsonb,
                 coalesce($15, (SELECT budget_usd FROM stitch_flows WHERE id = $1)))
         ON CONFLICT (parent_run_id, parent_instance_id, parent_attempt) WHERE parent_run_id IS NOT NULL DO NOTHING
         RETURNING id
       ), entry AS (
         INSERT INTO stitch_node_runs (run_id, instance_id, node_id, status)
         SELECT run.id, n, n, 'pending' FROM run, unnest($5::text[]) AS n
         RETURNING instance_id
       ), list AS (
         SELECT coalesce(jsonb_agg(jsonb_build_object('i', instance_id)), '[]') AS instances FROM entry
       ), idem AS (
         INSERT INTO stitch_idempotency_keys (scope, key, request_hash, run_id)
         SELECT $6, $7, $8, run.id FROM run WHERE $7::text IS NOT NULL
       )
       SELECT run.id,
              stitch_enqueue_execute(run.id, $2, list.instances, NULL) AS enqueued,
              stitch_emit(run.id, jsonb_build_array(jsonb_build_object('type', 'run:created', 'payload',
                jsonb_build_object('versionId', $2::uuid, 'flowId', $1::uuid) || CASE WHEN $9::uuid IS NULL THEN '{}'::jsonb
                  ELSE jsonb_build_object('parentRunId', $9::uuid, 'parentInstanceId', $10::text) END))
                || (SELECT coalesce(jsonb_agg(jsonb_build_object('instanceId', x ->> 'i', 'type', 'node:pending',
                      'payload', jsonb_build_object('attempt', 1))), '[]') FROM jsonb_array_elements(list.instances) x)) AS event
       FROM run, list`,
      [
        flowId,
        versionId,
        inputJson,
        JSON.stringify(options.trigger ?? { type: 'api' }),
        graph.entryNodes,
        key?.scope ?? null,
        key?.key ?? null,
        key?.requestHash ?? null,
        parent?.runId ?? null,
        parent?.instanceId ?? null,
        parent?.attempt ?? null,
        parent?.depth ?? 0,
        options.rerun?.of ?? null,
        options.rerun ? JSON.stringify(options.rerun) : null,
        options.budgetUsd ?? null,
      ],
    );
    if (!rows[0] && parent) {
      const existing = await getPool().query<{ id: string }>(
        'SELECT id FROM stitch_runs WHERE parent_run_id = $1 AND parent_instance_id = $2 AND parent_attempt = $3',
        [parent.runId, parent.instanceId, parent.attempt],
      );
      return { runId: existing.rows[0].id, versionId, flowId, status: 'running', existing: true };
    }
    return { runId: rows[0].id, versionId, flowId, status: 'running' };
  } catch (error) {
    if (key && (error as { code?: string }).code === '23505') {
      const earlier = await findIdempotentRun(key);
      if (earlier) return earlier;
    }
    throw error;
  }
}

/** How long a key is remembered, at least (design: ≥ 24 h). */
const IDEMPOTENCY_HOURS = 24;

/** The run an idempotency key started, if any; a different request under the same key is a conflict. */
async function findIdempotentRun(key: NonNullable<StartRunOptions['idempotency']>): Promise<StartedRun | undefined> {
  const { rows } = await getPool().query(
    `SELECT k.request_hash, r.id, r.version_id, r.flow_id, r.status FROM stitch_idempotency_keys k JOIN stitch_runs r ON r.id = k.run_id
     WHERE k.scope = $1 AND k.key = $2 AND k.created_at > now() - make_interval(hours => $3)`,
    [key.scope, key.key, IDEMPOTENCY_HOURS],
  );
  const row = rows[0];
  if (!row) {
    // An expired key may be reused: forget it (and any others past their time) first.
    await getPool().query('DELETE FROM stitch_idempotency_keys WHERE created_at <= now() - make_interval(hours => $1)', [IDEMPOTENCY_HOURS]);
    return undefined;
  }
  if (row.request_hash !== key.requestHash) {
    throw new ConflictError(`Idempotency-Key "${key.key}" was used for a different request (run ${row.id}); use a new key for a new request.`, {
      runId: row.id,
    });
  }
  return { runId: row.id, versionId: row.version_id, flowId: row.flow_id, status: row.status, duplicate: true };
}

/** Cancel a run: open work is cancelled, unreached nodes skipped, later callbacks refused (409). */
export async function cancelRun(runId: string): Promise<void> {
  const run = await getRun(runId);
  const graph = await getExecutionGraph(run.versionId);
  if (!(await abortRun(graph, runId, 'cancelled', 'Cancelled by request'))) {
    throw new ConflictError(`Run ${runId} is already ${(await getRun(runId)).status}`);
  }
}

/**
 * Retry a failed node instance as a new attempt. A failed run runs again: nodes the failure had
 * cancelled or skipped are reopened (and re-enqueued where all their upstreams had arrived). A
 * failed splitter item (`node[3]`) is retried alone; its collector completes once it does.
 */
export async function retryNode(runId: string, instanceId: string): Promise<{ attempt: number }> {
  const run = await getRun(runId);
  const graph = await getExecutionGraph(run.versionId);
  const inDegree = Object.fromEntries(Object.entries(graph.inEdges).map(([id, edges]) => [id, edges.length]));
  const { rows } = await retryTransient('retryNode', () =>
    getPool().query<{ r: { attempt?: number; error?: string; status?: string } }>(
      'SELECT stitch_retry_node($1, $2, $3, $4, $5::jsonb) AS r',
      [runId, run.versionId, instanceId, graph.entryNodes, JSON.stringify(inDegree)],
    ),
  );
  const r = rows[0].r;
  switch (r.error) {
    case undefined:
      return { attempt: r.attempt! };
    case 'run_not_found':
      throw new NotFoundError(`Run ${runId}`);
    case 'node_not_found':
      throw new NotFoundError(`Node ${instanceId} of run ${runId}`);
    case 'run_not_retryable':
      throw new ConflictError(`Run ${runId} is ${r.status}: only failed or running runs can retry a node`);
    case 'item_error_collected':
      throw new ConflictError(
        `Node ${instanceId} failed as one item of a collector with onItemError "collect": its error is already part of the collector's output. ` +
          `Use onItemError "fail" to retry failed items, or run the flow again.`,
      );
    default:
      throw new ConflictError(`Node ${instanceId} is ${r.status}: only failed nodes can be retried`);
  }
}

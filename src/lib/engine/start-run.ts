/**
 * The engine façade the server, CLI and tests call: start, cancel and retry runs.
 */
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
}

export interface StartedRun {
  runId: string;
  versionId: string;
  flowId: string | null;
  status: 'running';
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
  const { versionId, flowId } = await resolveTarget(target);
  const graph = await getExecutionGraph(versionId);
  const input = options.input === undefined ? {} : options.input;
  let inputJson: string;
  try {
    inputJson = JSON.stringify(input);
  } catch {
    throw new ValidationError('The run input must be JSON-serialisable');
  }
  // One statement: the run, its entry instances, their jobs and the events commit together.
  const { rows } = await getPool().query<{ id: string }>(
    `WITH run AS (
       INSERT INTO stitch_runs (flow_id, version_id, status, input, trigger, started_at)
       VALUES ($1, $2, 'running', $3::jsonb, $4::jsonb, now()) RETURNING id
     ), entry AS (
       INSERT INTO stitch_node_runs (run_id, instance_id, node_id, status)
       SELECT run.id, n, n, 'pending' FROM run, unnest($5::text[]) AS n
       RETURNING instance_id
     ), list AS (
       SELECT coalesce(jsonb_agg(jsonb_build_object('i', instance_id)), '[]') AS instances FROM entry
     )
     SELECT run.id,
            stitch_enqueue_execute(run.id, $2, list.instances, NULL) AS enqueued,
            stitch_emit(run.id, jsonb_build_array(jsonb_build_object('type', 'run:created', 'payload',
              jsonb_build_object('versionId', $2::uuid, 'flowId', $1::uuid)))
              || (SELECT coalesce(jsonb_agg(jsonb_build_object('instanceId', x ->> 'i', 'type', 'node:pending',
                    'payload', jsonb_build_object('attempt', 1))), '[]') FROM jsonb_array_elements(list.instances) x)) AS event
     FROM run, list`,
    [flowId, versionId, inputJson, JSON.stringify(options.trigger ?? { type: 'api' }), graph.entryNodes],
  );
  return { runId: rows[0].id, versionId, flowId, status: 'running' };
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

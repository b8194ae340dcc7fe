/**
 * The engine façade the server, CLI and tests call: start, cancel and retry runs.
 */
import { ConflictError, NotFoundError, ValidationError } from '@/lib/errors';
import { getPool, withTransaction } from '@/lib/db/pool';
import { getRun, isUuid } from '@/lib/db/runs';
import { getExecutionGraph } from './graph-cache';
import { parseInstanceId } from './instances';
import { abortRun } from './transitions';

export type RunTarget = string | { flowId: string } | { versionId: string };

export interface StartRunOptions {
  input?: unknown;
  /** Who or what started the run (`{type:'api'}`, `{type:'webhook', slug}`, …). */
  trigger?: Record<string, unknown>;
  /** A sub-flow's child run: the parent node attempt that starts it (at most one child per attempt). */
  parent?: { runId: string; instanceId: string; attempt: number; depth: number };
}

export interface StartedRun {
  runId: string;
  versionId: string;
  flowId: string | null;
  status: 'running';
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
  const { versionId, flowId } = await resolveTarget(target);
  const graph = await getExecutionGraph(versionId);
  const input = options.input === undefined ? {} : options.input;
  let inputJson: string;
  try {
    inputJson = JSON.stringify(input);
  } catch {
    throw new ValidationError('The run input must be JSON-serialisable');
  }
  // One statement: the run, its entry instances, their jobs and the events commit together. A child
  // run that exists already for its parent attempt inserts nothing (the unique parent index).
  const parent = options.parent;
  const { rows } = await getPool().query<{ id: string }>(
    `WITH run AS (
       INSERT INTO stitch_runs (flow_id, version_id, status, input, trigger, started_at,
                                parent_run_id, parent_instance_id, parent_attempt, depth)
       VALUES ($1, $2, 'running', $3::jsonb, $4::jsonb, now(), $6, $7, $8, $9)
       ON CONFLICT (parent_run_id, parent_instance_id, parent_attempt) WHERE parent_run_id IS NOT NULL DO NOTHING
       RETURNING id
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
              jsonb_build_object('versionId', $2::uuid, 'flowId', $1::uuid) || CASE WHEN $6::uuid IS NULL THEN '{}'::jsonb
                ELSE jsonb_build_object('parentRunId', $6::uuid, 'parentInstanceId', $7::text) END))
              || (SELECT coalesce(jsonb_agg(jsonb_build_object('instanceId', x ->> 'i', 'type', 'node:pending',
                    'payload', jsonb_build_object('attempt', 1))), '[]') FROM jsonb_array_elements(list.instances) x)) AS event
     FROM run, list`,
    [
      flowId,
      versionId,
      inputJson,
      JSON.stringify(options.trigger ?? { type: 'api' }),
      graph.entryNodes,
      parent?.runId ?? null,
      parent?.instanceId ?? null,
      parent?.attempt ?? null,
      parent?.depth ?? 0,
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
  return withTransaction(async (client) => {
    const locked = await client.query('SELECT status FROM stitch_runs WHERE id = $1 FOR UPDATE', [runId]);
    const runStatus: string = locked.rows[0].status;
    if (runStatus !== 'failed' && runStatus !== 'running') {
      throw new ConflictError(`Run ${runId} is ${runStatus}: only failed or running runs can retry a node`);
    }
    const node = await client.query(
      `UPDATE stitch_node_runs SET status = 'pending', attempt = attempt + 1, error = NULL, output = NULL,
              finished_at = NULL, deadline_at = NULL, updated_at = now()
       WHERE run_id = $1 AND instance_id = $2 AND status = 'failed'
         AND metadata ->> 'itemError' IS DISTINCT FROM 'collected' RETURNING attempt`,
      [runId, instanceId],
    );
    if (!node.rows[0]) {
      const exists = await client.query('SELECT status, metadata FROM stitch_node_runs WHERE run_id = $1 AND instance_id = $2', [runId, instanceId]);
      if (!exists.rows[0]) throw new NotFoundError(`Node ${instanceId} of run ${runId}`);
      if (exists.rows[0].metadata.itemError === 'collected') {
        throw new ConflictError(
          `Node ${instanceId} failed as one item of a collector with onItemError "collect": its error is already part of the collector's output. ` +
            `Use onItemError "fail" to retry failed items, or run the flow again.`,
        );
      }
      throw new ConflictError(`Node ${instanceId} is ${exists.rows[0].status}: only failed nodes can be retried`);
    }
    const attempt: number = node.rows[0].attempt;
    const enqueue: Array<{ i: string; a: number }> = [{ i: instanceId, a: attempt }];
    if (runStatus === 'failed') {
      // Reopen what the failure closed: rows it skipped without any arrival go (except collectors
      // waiting for items: their count of needed arrivals was set at fan-out); the rest wait again.
      await client.query(
        `DELETE FROM stitch_node_runs WHERE run_id = $1 AND status = 'skipped' AND arrived = 0
           AND metadata ->> 'closedBy' = 'failed' AND NOT (node_id = ANY ($2)) AND needed IS NULL`,
        [runId, graph.entryNodes],
      );
      const reopened = await client.query(
        `UPDATE stitch_node_runs
         SET status = 'pending', attempt = CASE WHEN started_at IS NULL THEN attempt ELSE attempt + 1 END,
             metadata = metadata - 'closedBy', finished_at = NULL, updated_at = now()
         WHERE run_id = $1 AND status IN ('skipped', 'cancelled') AND metadata ->> 'closedBy' = 'failed'
         RETURNING instance_id, attempt, arrived, needed`,
        [runId],
      );
      for (const r of reopened.rows) {
        const { nodeId } = parseInstanceId(r.instance_id);
        // A collector needs every item's arrivals (`needed`), any other node its in-degree.
        if (r.arrived >= (r.needed ?? graph.inEdges[nodeId].length)) enqueue.push({ i: r.instance_id, a: r.attempt });
      }
      await client.query(
        `UPDATE stitch_runs SET status = 'running', error = NULL, output = NULL, finished_at = NULL, updated_at = now() WHERE id = $1`,
        [runId],
      );
    }
    await client.query(
      `SELECT stitch_enqueue_execute($1, $2, $3::jsonb, NULL),
              stitch_emit($1, (SELECT jsonb_agg(jsonb_build_object('instanceId', x ->> 'i', 'type', 'node:pending',
                 'payload', jsonb_build_object('attempt', (x ->> 'a')::int, 'retry', true))) FROM jsonb_array_elements($3::jsonb) x))`,
      [runId, run.versionId, JSON.stringify(enqueue)],
    );
    return { attempt };
  });
}

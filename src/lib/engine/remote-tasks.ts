/**
 * Remote tasks: the attempts of nodes whose worker type a remote process serves
 * (docs/remote-workers.md). The engine's rules hold unchanged:
 *
 * - the `stitch_execute` job turns the attempt into a durable task row in the commit that marks the
 *   node running (`stitch_enqueue_remote_task`, 0011_remote_workers.sql), with a NOTIFY for pollers;
 * - a poll claims rows with `FOR UPDATE SKIP LOCKED`, so one worker at a time holds a task, and the
 *   token it gets is the node's callback token for that attempt;
 * - completions and failures go through `completeNode`/`failAttempt` with that attempt, so a stale or
 *   late one changes nothing;
 * - the `stitch_remote_lease` job expires a lease nobody extended (or a task past the node's timeout)
 *   and fails the attempt, which the node's retry policy turns into a new attempt — a new task.
 */
import type { ExecutionGraph, ExecutionNode, WorkerDefinition } from '@/types/stitch';
import { getPool } from '@/lib/db/pool';
import { getLogger } from '@/lib/log';
import { refreshRemoteTypes } from '@/lib/db/remote-workers';
import { DEFAULT_TIMEOUT_SECONDS, getWorkerDefinition, workerRegistry } from '@/lib/workers/registry';
import { getRemoteType, remoteTypesAgeMs } from '@/lib/workers/remote-types';
import { createCallbackToken } from '@/lib/host/callback-tokens';
import { failAttempt } from './complete-node';
import { getExecutionGraph } from './graph-cache';
import { guardJob } from './job-guard';
import type { NodeRef } from './transitions';

/** Tokens stay valid a day past the node's timeout, like callback URLs (state refuses late use). */
const TOKEN_GRACE_SECONDS = 86_400;

export interface RemoteTask {
  taskId: string;
  type: string;
  runId: string;
  nodeId: string;
  attempt: number;
  config: Record<string, unknown>;
  input: unknown;
  leaseSeconds: number;
  token: string;
  /** When the task became ready (ms since the epoch, database clock). */
  readyAt: number;
}

export interface RemoteTaskRow {
  id: string;
  runId: string;
  versionId: string;
  instanceId: string;
  attempt: number;
  type: string;
  state: 'ready' | 'leased' | 'done' | 'expired' | 'stale';
  workerId: string | null;
  /** The lease is current (leased and not past its end). */
  leaseCurrent: boolean;
}

/** How old this process's copy of remote definitions may be when a remote node executes. */
const REMOTE_TYPES_MAX_AGE_MS = 5000;

/**
 * The definition of a worker type. Remote types are reloaded when this process has not seen the
 * type, or its copy is older than REMOTE_TYPES_MAX_AGE_MS (a worker may have re-announced it).
 */
export async function findWorkerDefinition(type: string): Promise<WorkerDefinition | undefined> {
  const known = getWorkerDefinition(type);
  if (known && (workerRegistry.has(type) || remoteTypesAgeMs() < REMOTE_TYPES_MAX_AGE_MS)) return known;
  await refreshRemoteTypes();
  return getWorkerDefinition(type);
}

/** The hook in `stitch_execute`: the attempt of a remote-type node becomes a task. */
export async function enqueueRemoteTask(node: ExecutionNode, definition: WorkerDefinition, ref: NodeRef, input: unknown): Promise<boolean> {
  const remote = getRemoteType(node.workerType!)!;
  const timeout = node.timeoutSeconds ?? definition.timeoutSeconds ?? DEFAULT_TIMEOUT_SECONDS;
  const { rows } = await getPool().query<{ ok: boolean }>(
    'SELECT stitch_enqueue_remote_task($1, $2, $3, $4, $5::jsonb, $6, $7::jsonb, $8, $9) AS ok',
    [
      ref.runId,
      ref.versionId,
      ref.instanceId,
      ref.attempt,
      JSON.stringify(input ?? null),
      node.workerType,
      JSON.stringify({ ...definition.config, ...node.config }),
      remote.leaseSeconds,
      timeout,
    ],
  );
  return rows[0].ok;
}

/**
 * Claim up to `max` ready tasks of `types` for `workerId`. Rows whose node moved on (run cancelled
 * or failed, attempt superseded) are marked stale instead of handed out. Each claimed task gets a
 * lease job at the end of its lease.
 */
export async function claimRemoteTasks(workerId: string, types: string[], max: number): Promise<RemoteTask[]> {
  const { rows } = await getPool().query(
    `WITH c AS (
       SELECT t.id, (n.status = 'running' AND n.attempt = t.attempt AND r.status = 'running') AS live
       FROM stitch_remote_tasks t
       JOIN stitch_node_runs n ON n.run_id = t.run_id AND n.instance_id = t.instance_id
       JOIN stitch_runs r ON r.id = t.run_id
       WHERE t.state = 'ready' AND t.type = ANY ($2)
       ORDER BY t.ready_at LIMIT $3
       FOR UPDATE OF t SKIP LOCKED
     ), u AS (
       UPDATE stitch_remote_tasks t
       SET state = CASE WHEN c.live THEN 'leased' ELSE 'stale' END, worker_id = $1, claimed_at = clock_timestamp(),
           leased_until = least(clock_timestamp() + make_interval(secs => t.lease_seconds), t.deadline_at)
       FROM c WHERE t.id = c.id
       RETURNING t.*
     ), j AS (
       SELECT graphile_worker.add_jobs(array_agg(ROW('stitch_remote_lease', json_build_object('t', u.id), NULL,
                u.leased_until, 5, NULL, NULL, NULL)::graphile_worker.job_spec))
       FROM u WHERE u.state = 'leased' HAVING count(*) > 0
     )
     SELECT u.id, u.type, u.run_id, u.instance_id, u.attempt, u.config, u.input, u.lease_seconds, u.deadline_at,
            extract(epoch FROM u.ready_at) * 1000 AS ready_ms, (SELECT count(*) FROM j) AS jobs
     FROM u WHERE u.state = 'leased' ORDER BY u.ready_at`,
    [workerId, types, max],
  );
  return rows.map((r) => ({
    taskId: r.id,
    type: r.type,
    runId: r.run_id,
    nodeId: r.instance_id,
    attempt: r.attempt,
    config: r.config,
    input: r.input,
    leaseSeconds: r.lease_seconds,
    token: createCallbackToken(r.run_id, r.instance_id, r.attempt, (r.deadline_at.getTime() - Date.now()) / 1000 + TOKEN_GRACE_SECONDS),
    readyAt: Number(r.ready_ms),
  }));
}

export async function getRemoteTask(taskId: string): Promise<RemoteTaskRow | undefined> {
  const { rows } = await getPool().query(
    `SELECT id, run_id, version_id, instance_id, attempt, type, state, worker_id,
            (state = 'leased' AND leased_until > clock_timestamp()) AS lease_current
     FROM stitch_remote_tasks WHERE id = $1`,
    [taskId],
  );
  const r = rows[0];
  return (
    r && {
      id: r.id,
      runId: r.run_id,
      versionId: r.version_id,
      instanceId: r.instance_id,
      attempt: r.attempt,
      type: r.type,
      state: r.state,
      workerId: r.worker_id,
      leaseCurrent: r.lease_current,
    }
  );
}

/**
 * Extend a current lease (never past the node's timeout) and, when given, record progress on the
 * node — at this task's attempt only — with a `node:progress` event. Undefined when the lease is
 * gone (expired, settled): the worker should stop.
 */
export async function heartbeatRemoteTask(taskId: string, progress: number | null, message: string | null): Promise<{ leasedUntil: Date } | undefined> {
  const { rows } = await getPool().query(
    `WITH t AS (
       UPDATE stitch_remote_tasks t
       SET leased_until = least(clock_timestamp() + make_interval(secs => t.lease_seconds), t.deadline_at)
       WHERE t.id = $1 AND t.state = 'leased' AND t.leased_until > clock_timestamp()
         -- A cancelled run or a superseded attempt: no renewal, so the worker learns to stop.
         AND EXISTS (SELECT 1 FROM stitch_node_runs n JOIN stitch_runs r ON r.id = n.run_id
                     WHERE n.run_id = t.run_id AND n.instance_id = t.instance_id AND n.attempt = t.attempt
                       AND n.status = 'running' AND r.status = 'running')
       RETURNING t.run_id, t.instance_id, t.attempt, t.worker_id, t.leased_until
     ), w AS (
       UPDATE stitch_remote_workers SET last_seen_at = now() WHERE worker_id = (SELECT worker_id FROM t)
     ), n AS (
       UPDATE stitch_node_runs n
       SET progress = coalesce($2::real, n.progress),
           metadata = n.metadata || jsonb_strip_nulls(jsonb_build_object('progress', $2::real, 'message', $3::text)),
           updated_at = now()
       FROM t
       WHERE ($2::real IS NOT NULL OR $3::text IS NOT NULL)
         AND n.run_id = t.run_id AND n.instance_id = t.instance_id AND n.attempt = t.attempt AND n.status = 'running'
       RETURNING n.run_id, n.instance_id, n.attempt
     )
     SELECT t.leased_until,
            (SELECT stitch_emit(n.run_id, jsonb_build_array(jsonb_build_object('instanceId', n.instance_id, 'type', 'node:progress',
                      'payload', jsonb_build_object('attempt', n.attempt, 'progress', $2::real, 'message', $3::text)))) FROM n) AS event
     FROM t`,
    [taskId, progress, message],
  );
  return rows[0] && { leasedUntil: rows[0].leased_until };
}

/** The task was settled through the engine: its lease ends. */
export async function markRemoteTaskDone(taskId: string): Promise<void> {
  await getPool().query(`UPDATE stitch_remote_tasks SET state = 'done' WHERE id = $1 AND state = 'leased'`, [taskId]);
}

/** Usage a remote worker reported with its output, kept in the node's metadata (this attempt only). */
export async function recordRemoteUsage(task: RemoteTaskRow, usage: Record<string, unknown>): Promise<void> {
  await getPool().query(
    `UPDATE stitch_node_runs SET metadata = metadata || jsonb_build_object('usage', $4::jsonb)
     WHERE run_id = $1 AND instance_id = $2 AND attempt = $3`,
    [task.runId, task.instanceId, task.attempt, JSON.stringify(usage)],
  );
}

/**
 * The `stitch_remote_lease` job, due at a lease's end (and at the node's timeout): expire the
 * task if nobody extended it and fail its attempt; if a heartbeat extended it, come back then.
 */
export async function remoteLeaseJob(payload: { t: string }): Promise<void> {
  // Look first, fail the attempt, and only then mark the task expired: a retry of this job after a
  // lost connection finds the task still live and fails the attempt again, which the attempt rule
  // makes a no-op if the first try got through. Marking first would strand the node running.
  const { rows } = await getPool().query(
    `SELECT run_id, version_id, instance_id, attempt, worker_id, type, state AS was,
            deadline_at <= now() AS past_deadline, extract(epoch FROM deadline_at - ready_at) AS timeout_s
       FROM stitch_remote_tasks
      WHERE id = $1 AND state IN ('ready', 'leased')
        AND (deadline_at <= now() OR (state = 'leased' AND leased_until <= now()))`,
    [payload.t],
  );
  const expired = rows[0];
  if (!expired) {
    // Extended by heartbeats: look again when the lease now ends.
    await getPool().query(
      `SELECT graphile_worker.add_job('stitch_remote_lease', json_build_object('t', id), run_at => least(leased_until, deadline_at), max_attempts => 5)
       FROM stitch_remote_tasks WHERE id = $1 AND state = 'leased'`,
      [payload.t],
    );
    return;
  }
  const ref: NodeRef = { runId: expired.run_id, versionId: expired.version_id, instanceId: expired.instance_id, attempt: expired.attempt };
  const timeout = Math.round(Number(expired.timeout_s));
  const reason =
    expired.was === 'ready'
      ? `No remote worker for "${expired.type}" took the task within the node's ${timeout}s timeout`
      : expired.past_deadline
        ? `Remote worker ${expired.worker_id} did not finish within the node's ${timeout}s timeout`
        : `Remote worker ${expired.worker_id} stopped renewing its lease (no heartbeat): the task goes to another worker`;
  getLogger().warn({ runId: ref.runId, nodeId: ref.instanceId, attempt: ref.attempt, worker: expired.worker_id }, reason);
  // Guarded like every node job: a failure policy that throws still ends the run.
  await guardJob('stitch_remote_lease', ref, async () => {
    await failAttempt(await getExecutionGraph(ref.versionId), ref, new Error(reason));
  });
  await getPool().query(`UPDATE stitch_remote_tasks SET state = 'expired' WHERE id = $1 AND state IN ('ready', 'leased')`, [payload.t]);
}

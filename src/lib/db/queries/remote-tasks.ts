/**
 * Remote tasks (`stitch_remote_tasks`, 0011_remote_workers.sql): the attempts of nodes a remote
 * process serves, claimed with `FOR UPDATE SKIP LOCKED`, kept alive by heartbeats and expired by
 * the `stitch_remote_lease` job.
 */
import type { AttemptRef, Queryable } from './queryable';

export interface NewRemoteTask {
  inputJson: string;
  type: string;
  configJson: string;
  leaseSeconds: number;
  timeoutSeconds: number;
}

/** The attempt becomes a task row in the commit that marks the node running (with a NOTIFY for pollers). */
export async function enqueueRemoteTask(db: Queryable, ref: AttemptRef, t: NewRemoteTask): Promise<boolean> {
  const { rows } = await db.query<{ ok: boolean }>('SELECT stitch_enqueue_remote_task($1, $2, $3, $4, $5::jsonb, $6, $7::jsonb, $8, $9) AS ok', [
    ref.runId,
    ref.versionId,
    ref.instanceId,
    ref.attempt,
    t.inputJson,
    t.type,
    t.configJson,
    t.leaseSeconds,
    t.timeoutSeconds,
  ]);
  return rows[0].ok;
}

export interface ClaimedTaskRow {
  id: string;
  type: string;
  runId: string;
  instanceId: string;
  attempt: number;
  config: Record<string, unknown>;
  input: unknown;
  leaseSeconds: number;
  deadlineAt: Date;
  /** When the task became ready (ms since the epoch, database clock). */
  readyAt: number;
}

/**
 * Claim up to `max` ready tasks of `types` for `workerId`. Rows whose node moved on (run cancelled
 * or failed, attempt superseded) are marked stale instead of handed out. Each claimed task gets a
 * lease job at the end of its lease.
 */
export async function claimRemoteTasks(db: Queryable, workerId: string, types: string[], max: number): Promise<ClaimedTaskRow[]> {
  const { rows } = await db.query(
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
    id: r.id,
    type: r.type,
    runId: r.run_id,
    instanceId: r.instance_id,
    attempt: r.attempt,
    config: r.config,
    input: r.input,
    leaseSeconds: r.lease_seconds,
    deadlineAt: r.deadline_at,
    readyAt: Number(r.ready_ms),
  }));
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

export async function getRemoteTask(db: Queryable, taskId: string): Promise<RemoteTaskRow | undefined> {
  const { rows } = await db.query(
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
export async function heartbeatRemoteTask(db: Queryable, taskId: string, progress: number | null, message: string | null): Promise<{ leasedUntil: Date } | undefined> {
  const { rows } = await db.query(
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
export async function markRemoteTaskDone(db: Queryable, taskId: string): Promise<void> {
  await db.query(`UPDATE stitch_remote_tasks SET state = 'done' WHERE id = $1 AND state = 'leased'`, [taskId]);
}

/** Usage a remote worker reported with its output, kept in the node's metadata (this attempt only). */
export async function recordRemoteUsage(db: Queryable, task: Omit<AttemptRef, 'versionId'>, usage: Record<string, unknown>): Promise<void> {
  await db.query(
    `UPDATE stitch_node_runs SET metadata = metadata || jsonb_build_object('usage', $4::jsonb)
     WHERE run_id = $1 AND instance_id = $2 AND attempt = $3`,
    [task.runId, task.instanceId, task.attempt, JSON.stringify(usage)],
  );
}

export interface ExpiredTask {
  runId: string;
  versionId: string;
  instanceId: string;
  attempt: number;
  workerId: string | null;
  type: string;
  /** The state it expired from. */
  was: 'ready' | 'leased';
  pastDeadline: boolean;
  timeoutSeconds: number;
}

/** The task, when it is still live but past its lease or the node's timeout. */
export async function findExpiredRemoteTask(db: Queryable, taskId: string): Promise<ExpiredTask | undefined> {
  const { rows } = await db.query(
    `SELECT run_id, version_id, instance_id, attempt, worker_id, type, state AS was,
            deadline_at <= now() AS past_deadline, extract(epoch FROM deadline_at - ready_at) AS timeout_s
       FROM stitch_remote_tasks
      WHERE id = $1 AND state IN ('ready', 'leased')
        AND (deadline_at <= now() OR (state = 'leased' AND leased_until <= now()))`,
    [taskId],
  );
  const r = rows[0];
  return (
    r && {
      runId: r.run_id,
      versionId: r.version_id,
      instanceId: r.instance_id,
      attempt: r.attempt,
      workerId: r.worker_id,
      type: r.type,
      was: r.was,
      pastDeadline: r.past_deadline,
      timeoutSeconds: Number(r.timeout_s),
    }
  );
}

/** A lease extended by heartbeats: its lease job comes back when the lease now ends. */
export async function rescheduleLeaseJob(db: Queryable, taskId: string): Promise<void> {
  await db.query(
    `SELECT graphile_worker.add_job('stitch_remote_lease', json_build_object('t', id), run_at => least(leased_until, deadline_at), max_attempts => 5)
     FROM stitch_remote_tasks WHERE id = $1 AND state = 'leased'`,
    [taskId],
  );
}

export async function markRemoteTaskExpired(db: Queryable, taskId: string): Promise<void> {
  await db.query(`UPDATE stitch_remote_tasks SET state = 'expired' WHERE id = $1 AND state IN ('ready', 'leased')`, [taskId]);
}

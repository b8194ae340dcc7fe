/**
 * What the health check and the metrics ask the database: live queue runners, jobs waiting,
 * runs and node instances by status, and node durations since a given event.
 */
import type { Queryable } from './queryable';

export interface QueueStats {
  /** Runners whose heartbeat is fresher than the stale threshold. */
  liveRunners: number;
  /** Jobs due now and not locked by a runner. */
  ready: number;
  /** Jobs scheduled for later (retries, deadlines, waits). */
  scheduled: number;
  /** Jobs a runner is executing. */
  locked: number;
}

export async function readQueueStats(db: Queryable, staleRunnerSeconds: number): Promise<QueueStats> {
  const { rows } = await db.query(
    `SELECT (SELECT count(*) FROM stitch_runners WHERE last_seen_at > now() - make_interval(secs => $1))::int AS live_runners,
            count(*) FILTER (WHERE locked_at IS NULL AND run_at <= now())::int AS ready,
            count(*) FILTER (WHERE locked_at IS NULL AND run_at > now())::int AS scheduled,
            count(*) FILTER (WHERE locked_at IS NOT NULL)::int AS locked
     FROM graphile_worker.jobs`,
    [staleRunnerSeconds],
  );
  const r = rows[0];
  return { liveRunners: r.live_runners, ready: r.ready, scheduled: r.scheduled, locked: r.locked };
}

export async function countByStatus(db: Queryable, table: 'stitch_runs' | 'stitch_node_runs'): Promise<Array<{ status: string; n: number }>> {
  const { rows } = await db.query(`SELECT status, count(*)::int AS n FROM ${table} GROUP BY status`);
  return rows;
}

export interface NodeDuration {
  workerType: string;
  status: string;
  seconds: number;
}

/**
 * Durations of node instances that settled after event `afterId` (their completed/failed events),
 * with the worker type from the run's version. Non-worker nodes (start, end, …) are left out.
 */
export async function readNodeDurations(db: Queryable, afterId: number, limit = 5000): Promise<{ lastId: number; durations: NodeDuration[] }> {
  const { rows } = await db.query(
    `SELECT e.id AS event_id, n.status, v.execution_graph -> 'nodes' -> n.node_id ->> 'workerType' AS worker_type,
            extract(epoch FROM n.finished_at - n.started_at)::float8 AS seconds
     FROM stitch_events e
     JOIN stitch_node_runs n ON n.run_id = e.run_id AND n.instance_id = e.instance_id
     JOIN stitch_runs r ON r.id = e.run_id
     JOIN stitch_flow_versions v ON v.id = r.version_id
     WHERE e.id > $1 AND e.type IN ('node:completed', 'node:failed')
     ORDER BY e.id LIMIT $2`,
    [afterId, limit],
  );
  const durations = rows
    .filter((r) => r.worker_type && r.seconds !== null)
    .map((r) => ({ workerType: r.worker_type, status: r.status, seconds: r.seconds }));
  return { lastId: rows.length ? rows[rows.length - 1].event_id : afterId, durations };
}

export interface QueueBacklog {
  flowId: string;
  flowName: string;
  /** The node's worker type, or its node type (`start`, `splitter`, …) for engine nodes. */
  workerType: string;
  /** Execute jobs due and not yet taken. */
  ready: number;
  /** How long the oldest of them has been due. */
  oldestWaitSeconds: number;
  /** Jobs due later: backoff before a retry, a priority's offset, an integration limit's wait. */
  scheduled: number;
}

/**
 * Node executions waiting in the queue, by flow and worker type (the groups with the most due
 * first, at most `limit`): what graphile-worker's own tracker asks for as queue depth and waiting
 * time. Read at scrape time from the queue's table (its public view has no payload).
 */
export async function readQueueBacklog(db: Queryable, limit: number): Promise<QueueBacklog[]> {
  const { rows } = await db.query(
    `SELECT r.flow_id, f.name AS flow_name,
            coalesce(n.node -> 'workerType', n.node -> 'type') #>> '{}' AS worker_type,
            count(*) FILTER (WHERE j.run_at <= now())::int AS ready,
            coalesce(extract(epoch FROM now() - min(j.run_at) FILTER (WHERE j.run_at <= now())), 0)::float8 AS oldest,
            count(*) FILTER (WHERE j.run_at > now())::int AS scheduled
     FROM graphile_worker._private_jobs j
     JOIN graphile_worker._private_tasks t ON t.id = j.task_id AND t.identifier = 'stitch_execute'
     JOIN stitch_runs r ON r.id = (j.payload ->> 'r')::uuid
     JOIN stitch_flows f ON f.id = r.flow_id
     JOIN stitch_flow_versions v ON v.id = r.version_id
     CROSS JOIN LATERAL (SELECT v.execution_graph -> 'nodes' -> substring(j.payload ->> 'i' FROM '^[^\\[]+') AS node) n
     WHERE j.locked_at IS NULL
     GROUP BY 1, 2, 3
     ORDER BY 4 DESC, 6 DESC
     LIMIT $1`,
    [limit],
  );
  return rows.map((r) => ({ flowId: r.flow_id, flowName: r.flow_name, workerType: r.worker_type ?? 'unknown', ready: r.ready, oldestWaitSeconds: r.oldest, scheduled: r.scheduled }));
}

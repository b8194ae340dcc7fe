/**
 * What the trace exporter reads (src/lib/tracing/export.ts): the run-ending events since its
 * watermark, and each ended run's nodes, attempt boundaries and spend. The watermark is one row of
 * stitch_settings, locked while a sweep runs so that one process at a time exports.
 */
import type { Queryable } from './queryable';

const WATERMARK = 'trace_export_after';

/** Create the watermark at the newest event (runs that ended before tracing was on are not exported). */
export async function ensureTraceWatermark(db: Queryable): Promise<void> {
  await db.query(
    `INSERT INTO stitch_settings (key, value) SELECT $1, coalesce(max(id), 0)::text FROM stitch_events ON CONFLICT (key) DO NOTHING`,
    [WATERMARK],
  );
}

/** The watermark, locked for this transaction; undefined while another process sweeps. */
export async function lockTraceWatermark(db: Queryable): Promise<number | undefined> {
  const { rows } = await db.query<{ value: string }>('SELECT value FROM stitch_settings WHERE key = $1 FOR UPDATE SKIP LOCKED', [WATERMARK]);
  return rows[0] ? Number(rows[0].value) : undefined;
}

export async function setTraceWatermark(db: Queryable, eventId: number): Promise<void> {
  await db.query('UPDATE stitch_settings SET value = $2 WHERE key = $1', [WATERMARK, String(eventId)]);
}

export interface ScannedEvent {
  id: number;
  runId: string;
  /** A run's end (`run:completed`, `run:failed`, `run:cancelled`). */
  ends: boolean;
  /** Older than the settling margin: its transaction has certainly committed, and so have those before it. */
  settled: boolean;
}

/** Up to `limit` events after `afterId`, in order (small rows: a primary-key range read). */
export async function scanEvents(db: Queryable, afterId: number, settleSeconds: number, limit: number): Promise<ScannedEvent[]> {
  const { rows } = await db.query<{ id: string; run_id: string; ends: boolean; settled: boolean }>(
    `SELECT id, run_id, type IN ('run:completed', 'run:failed', 'run:cancelled') AS ends,
            created_at < now() - make_interval(secs => $2) AS settled
     FROM stitch_events WHERE id > $1 ORDER BY id LIMIT $3`,
    [afterId, settleSeconds, limit],
  );
  return rows.map((r) => ({ id: Number(r.id), runId: r.run_id, ends: r.ends, settled: r.settled }));
}

export interface TracedNode {
  instanceId: string;
  nodeId: string;
  itemPath: number[];
  status: string;
  attempt: number;
  error: string | null;
  createdAt: Date;
  startedAt: Date | null;
  finishedAt: Date | null;
}

/** A boundary of an attempt: `node:running` (it started), `node:retrying` (it failed and is tried again). */
export interface AttemptEvent {
  instanceId: string;
  type: 'node:running' | 'node:retrying';
  attempt: number;
  at: Date;
  error: string | null;
}

export interface TracedRun {
  id: string;
  flowId: string | null;
  flowName: string | null;
  status: string;
  error: string | null;
  trigger: string | null;
  createdAt: Date;
  startedAt: Date | null;
  finishedAt: Date | null;
  parent: { runId: string; instanceId: string; attempt: number } | null;
  nodes: TracedNode[];
  events: AttemptEvent[];
  /** USD per `${instanceId} ${attempt}`. */
  usd: Record<string, number>;
  /** Node types and worker types by node id, from the run's version. */
  types: Record<string, { type: string; workerType?: string }>;
}

const date = (v: string | null) => (v === null ? null : new Date(v));

/** Everything a run's trace is written from, for each of `runIds` that still exists. */
export async function readTracedRuns(db: Queryable, runIds: string[]): Promise<TracedRun[]> {
  const { rows } = await db.query(
    `SELECT r.id, r.flow_id, f.name AS flow_name, r.status, r.error, r.trigger ->> 'type' AS trigger,
            r.created_at, r.started_at, r.finished_at, r.parent_run_id, r.parent_instance_id, r.parent_attempt,
            (SELECT coalesce(jsonb_agg(jsonb_build_object('instanceId', n.instance_id, 'nodeId', n.node_id, 'itemPath', n.item_path,
                      'status', n.status, 'attempt', n.attempt, 'error', left(n.error, 500), 'createdAt', n.created_at,
                      'startedAt', n.started_at, 'finishedAt', n.finished_at)), '[]')
             FROM stitch_node_runs n WHERE n.run_id = r.id) AS nodes,
            (SELECT coalesce(jsonb_agg(jsonb_build_object('instanceId', e.instance_id, 'type', e.type,
                      'attempt', (e.payload ->> 'attempt')::int, 'at', e.created_at, 'error', left(e.payload ->> 'error', 500)) ORDER BY e.id), '[]')
             FROM stitch_events e WHERE e.run_id = r.id AND e.type IN ('node:running', 'node:retrying')) AS events,
            (SELECT coalesce(jsonb_object_agg(u.instance_id || ' ' || u.attempt, u.usd), '{}')
             FROM (SELECT instance_id, attempt, sum(usd) AS usd FROM stitch_node_usage WHERE run_id = r.id GROUP BY 1, 2) u) AS usd,
            (SELECT coalesce(jsonb_object_agg(k, jsonb_strip_nulls(jsonb_build_object('type', x ->> 'type', 'workerType', x ->> 'workerType'))), '{}')
             FROM jsonb_each(v.execution_graph -> 'nodes') AS t(k, x)) AS types
     FROM stitch_runs r
     JOIN stitch_flow_versions v ON v.id = r.version_id
     LEFT JOIN stitch_flows f ON f.id = r.flow_id
     WHERE r.id = ANY($1::uuid[])`,
    [runIds],
  );
  return rows.map((r) => ({
    id: r.id,
    flowId: r.flow_id,
    flowName: r.flow_name,
    status: r.status,
    error: r.error,
    trigger: r.trigger,
    createdAt: r.created_at,
    startedAt: r.started_at,
    finishedAt: r.finished_at,
    parent: r.parent_run_id ? { runId: r.parent_run_id, instanceId: r.parent_instance_id, attempt: r.parent_attempt } : null,
    nodes: (r.nodes as Array<Record<string, any>>).map((n) => ({ ...n, createdAt: new Date(n.createdAt), startedAt: date(n.startedAt), finishedAt: date(n.finishedAt) }) as TracedNode),
    events: (r.events as Array<Record<string, any>>).map((e) => ({ ...e, at: new Date(e.at) }) as AttemptEvent),
    usd: r.usd,
    types: r.types,
  }));
}

/**
 * Remote worker types (`stitch_remote_types`) and the processes serving them
 * (`stitch_remote_workers`): registration, presence, and the stored definitions.
 */
import type { WorkerDefinition } from '@/types/stitch';
import type { Queryable } from './queryable';

export interface RemoteTypeRow {
  type: string;
  definition: WorkerDefinition;
  leaseSeconds: number;
}

/** Store (or update) the announced definitions and the worker's presence, in one statement. */
export async function upsertRemoteWorker(db: Queryable, workerId: string, types: RemoteTypeRow[]): Promise<void> {
  await db.query(
    `WITH t AS (
       INSERT INTO stitch_remote_types (type, definition, lease_seconds)
       SELECT r->>'type', r->'definition', (r->>'lease')::int FROM jsonb_array_elements($2::jsonb) r
       ON CONFLICT (type) DO UPDATE SET definition = excluded.definition, lease_seconds = excluded.lease_seconds, updated_at = now()
       RETURNING 1
     )
     INSERT INTO stitch_remote_workers (worker_id, types, last_seen_at) VALUES ($1, $3, now())
     ON CONFLICT (worker_id) DO UPDATE SET types = excluded.types, last_seen_at = now()`,
    [workerId, JSON.stringify(types.map((t) => ({ type: t.type, definition: t.definition, lease: t.leaseSeconds }))), types.map((t) => t.type)],
  );
}

/** The worker was heard from (a poll or heartbeat). */
export async function touchRemoteWorker(db: Queryable, workerId: string, types: string[]): Promise<void> {
  await db.query(
    `INSERT INTO stitch_remote_workers (worker_id, types, last_seen_at) VALUES ($1, $2, now())
     ON CONFLICT (worker_id) DO UPDATE SET types = excluded.types, last_seen_at = now()`,
    [workerId, types],
  );
}

export async function readRemoteTypes(db: Queryable): Promise<RemoteTypeRow[]> {
  const { rows } = await db.query<{ type: string; definition: WorkerDefinition; lease_seconds: number }>(
    'SELECT type, definition, lease_seconds FROM stitch_remote_types',
  );
  return rows.map((r) => ({ type: r.type, definition: r.definition, leaseSeconds: r.lease_seconds }));
}

export interface RemoteTypeStatusRow extends RemoteTypeRow {
  /** Workers serving it heard from within `onlineSeconds`. */
  online: number;
  lastSeenAt: Date | null;
}

/** Every remote type with its online count and when a worker serving it was last seen. */
export async function listRemoteTypeStatus(db: Queryable, onlineSeconds: number): Promise<RemoteTypeStatusRow[]> {
  const { rows } = await db.query(
    `SELECT t.type, t.definition, t.lease_seconds,
            count(w.worker_id) FILTER (WHERE w.last_seen_at > now() - make_interval(secs => $1))::int AS online,
            max(w.last_seen_at) AS last_seen_at
     FROM stitch_remote_types t LEFT JOIN stitch_remote_workers w ON t.type = ANY (w.types)
     GROUP BY t.type ORDER BY t.type`,
    [onlineSeconds],
  );
  return rows.map((r) => ({ type: r.type, definition: r.definition, leaseSeconds: r.lease_seconds, online: r.online, lastSeenAt: r.last_seen_at }));
}

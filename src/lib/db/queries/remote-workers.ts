/**
 * Remote worker types (`stitch_remote_types`) and the processes serving them
 * (`stitch_remote_workers`): registration, presence, and the stored definitions.
 */
import type { WorkerDefinition } from '@/types/stitch';
import type { Queryable } from './queryable';
import { lockCollection } from './advisory-locks';

export interface RemoteTypeRow {
  type: string;
  definition: WorkerDefinition;
  leaseSeconds: number;
}

/** The bounds a registration keeps (config `limits`). */
export interface RemoteRegistryLimits {
  /** Types stored in all. */
  remoteTypes: number;
  /** Worker processes known. */
  remoteWorkers: number;
  /** Types and workers unheard of for this long drop out (of the catalogue, then of the tables). */
  remoteOfflineSeconds: number;
}

export type RegisterOutcome =
  | { ok: true; removed: string[] }
  | { ok: false; over: 'types' | 'workers'; count: number };

/** One registry change at a time, so the counts a registration checks are the counts it leaves. */
const lockRegistry = (db: Queryable) => lockCollection(db, 'remote-registry');

/**
 * Within the caller's transaction: drop what has been offline past the limit (workers unheard of,
 * types no live worker serves and no open task needs), then store the announced definitions and
 * the worker's presence — unless that would pass a bound, which changes nothing.
 */
export async function registerRemoteWorker(db: Queryable, workerId: string, types: RemoteTypeRow[], limits: RemoteRegistryLimits): Promise<RegisterOutcome> {
  await lockRegistry(db);
  const names = types.map((t) => t.type);
  const { rows: dropped } = await db.query<{ type: string }>(
    `WITH gone AS (
       DELETE FROM stitch_remote_workers WHERE last_seen_at < now() - make_interval(secs => $2) AND worker_id <> $1
     )
     DELETE FROM stitch_remote_types t
     WHERE NOT (t.type = ANY ($3)) AND t.updated_at < now() - make_interval(secs => $2)
       AND NOT EXISTS (SELECT 1 FROM stitch_remote_workers w WHERE t.type = ANY (w.types) AND w.last_seen_at >= now() - make_interval(secs => $2))
       AND NOT EXISTS (SELECT 1 FROM stitch_remote_tasks k WHERE k.type = t.type AND k.state IN ('ready', 'leased'))
     RETURNING t.type`,
    [workerId, limits.remoteOfflineSeconds, names],
  );
  const { rows: counts } = await db.query<{ types: number; workers: number; known: boolean }>(
    `SELECT (SELECT count(*) FROM stitch_remote_types WHERE NOT (type = ANY ($2)))::int + cardinality($2::text[]) AS types,
            (SELECT count(*) FROM stitch_remote_workers)::int AS workers,
            EXISTS (SELECT 1 FROM stitch_remote_workers WHERE worker_id = $1) AS known`,
    [workerId, names],
  );
  const removed = dropped.map((r) => r.type);
  if (counts[0].types > limits.remoteTypes) return { ok: false, over: 'types', count: counts[0].types };
  if (!counts[0].known && counts[0].workers >= limits.remoteWorkers) return { ok: false, over: 'workers', count: counts[0].workers };
  await db.query(
    `WITH t AS (
       INSERT INTO stitch_remote_types (type, definition, lease_seconds)
       SELECT r->>'type', r->'definition', (r->>'lease')::int FROM jsonb_array_elements($2::jsonb) r
       ON CONFLICT (type) DO UPDATE SET definition = excluded.definition, lease_seconds = excluded.lease_seconds, updated_at = now()
       RETURNING 1
     )
     INSERT INTO stitch_remote_workers (worker_id, types, last_seen_at) VALUES ($1, $3, now())
     ON CONFLICT (worker_id) DO UPDATE SET types = excluded.types, last_seen_at = now()`,
    [workerId, JSON.stringify(types.map((t) => ({ type: t.type, definition: t.definition, lease: t.leaseSeconds }))), names],
  );
  return { ok: true, removed };
}

/**
 * The worker was heard from (a poll). False when it is a new worker and `maxWorkers` are known
 * already (nothing stored). A race of two new workers may pass the bound by one; registration,
 * which takes the registry lock, keeps it exactly.
 */
export async function touchRemoteWorker(db: Queryable, workerId: string, types: string[], maxWorkers: number): Promise<boolean> {
  const { rowCount } = await db.query(
    `INSERT INTO stitch_remote_workers (worker_id, types, last_seen_at)
     SELECT $1, $2, now()
     WHERE EXISTS (SELECT 1 FROM stitch_remote_workers WHERE worker_id = $1) OR (SELECT count(*) FROM stitch_remote_workers) < $3
     ON CONFLICT (worker_id) DO UPDATE SET types = excluded.types, last_seen_at = now()`,
    [workerId, types, maxWorkers],
  );
  return rowCount === 1;
}

/**
 * Remove a type (within the caller's transaction): `open` when tasks of it are ready or leased
 * (nothing changed), `missing` when there is no such type.
 */
export async function deleteRemoteType(db: Queryable, type: string): Promise<'deleted' | 'open' | 'missing'> {
  await lockRegistry(db);
  const { rows } = await db.query<{ open: number }>(
    "SELECT count(*)::int AS open FROM stitch_remote_tasks WHERE type = $1 AND state IN ('ready', 'leased')",
    [type],
  );
  if (rows[0].open > 0) return 'open';
  const { rowCount } = await db.query('DELETE FROM stitch_remote_types WHERE type = $1', [type]);
  if (!rowCount) return 'missing';
  await db.query('UPDATE stitch_remote_workers SET types = array_remove(types, $1) WHERE $1 = ANY (types)', [type]);
  return 'deleted';
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

/**
 * Every remote type with its online count and when a worker serving it was last seen, but those
 * offline past `offlineSeconds` (no worker serving it heard from since, and not announced since).
 */
export async function listRemoteTypeStatus(db: Queryable, onlineSeconds: number, offlineSeconds: number): Promise<RemoteTypeStatusRow[]> {
  const { rows } = await db.query(
    `SELECT t.type, t.definition, t.lease_seconds,
            count(w.worker_id) FILTER (WHERE w.last_seen_at > now() - make_interval(secs => $1))::int AS online,
            max(w.last_seen_at) AS last_seen_at
     FROM stitch_remote_types t LEFT JOIN stitch_remote_workers w ON t.type = ANY (w.types)
     GROUP BY t.type
     HAVING greatest(max(w.last_seen_at), max(t.updated_at)) >= now() - make_interval(secs => $2)
     ORDER BY t.type`,
    [onlineSeconds, offlineSeconds],
  );
  return rows.map((r) => ({ type: r.type, definition: r.definition, leaseSeconds: r.lease_seconds, online: r.online, lastSeenAt: r.last_seen_at }));
}

/**
 * Remote worker types and the processes serving them: registration, presence (online = heard from
 * within ONLINE_SECONDS) and the refresh of the process's copy of remote definitions.
 */
import type { RemoteWorkerStatus, WorkerDefinition } from '@/types/stitch';
import { ConflictError } from '@/lib/errors';
import { WORKER_DEFINITIONS, workerRegistry } from '@/lib/workers/registry';
import { setRemoteTypes, type RemoteType } from '@/lib/workers/remote-types';
import { getPool } from './pool';

/**
 * A worker counts as online when it was heard from (register, poll, heartbeat) this recently: a
 * long-poll lasts at most 30 s, so a polling worker is never older than that plus a round trip.
 */
export const ONLINE_SECONDS = 45;
export const DEFAULT_LEASE_SECONDS = 30;


/** Store (or update) the announced definitions and the worker's presence, in one transaction. */
export async function registerRemoteWorker(workerId: string, definitions: Array<WorkerDefinition & { leaseSeconds?: number }>): Promise<void> {
  // A remote type may not shadow a local worker: nodes of that type would run in two places.
  const local = definitions.filter((d) => workerRegistry.has(d.id) || Object.prototype.hasOwnProperty.call(WORKER_DEFINITIONS, d.id));
  if (local.length) {
    throw new ConflictError(`Worker type(s) ${local.map((d) => `"${d.id}"`).join(', ')} are local workers of this server; choose other names.`);
  }
  const rows = definitions.map(({ leaseSeconds, ...definition }) => ({
    type: definition.id,
    definition,
    lease: leaseSeconds ?? DEFAULT_LEASE_SECONDS,
  }));
  await getPool().query(
    `WITH t AS (
       INSERT INTO stitch_remote_types (type, definition, lease_seconds)
       SELECT r->>'type', r->'definition', (r->>'lease')::int FROM jsonb_array_elements($2::jsonb) r
       ON CONFLICT (type) DO UPDATE SET definition = excluded.definition, lease_seconds = excluded.lease_seconds, updated_at = now()
       RETURNING 1
     )
     INSERT INTO stitch_remote_workers (worker_id, types, last_seen_at) VALUES ($1, $3, now())
     ON CONFLICT (worker_id) DO UPDATE SET types = excluded.types, last_seen_at = now()`,
    [workerId, JSON.stringify(rows), rows.map((r) => r.type)],
  );
  await refreshRemoteTypes();
}

/** The worker was heard from (a poll or heartbeat). */
export async function touchRemoteWorker(workerId: string, types: string[]): Promise<void> {
  await getPool().query(
    `INSERT INTO stitch_remote_workers (worker_id, types, last_seen_at) VALUES ($1, $2, now())
     ON CONFLICT (worker_id) DO UPDATE SET types = excluded.types, last_seen_at = now()`,
    [workerId, types],
  );
}

/** Reload the process's copy of remote definitions (registry lookups read it synchronously). */
export async function refreshRemoteTypes(): Promise<void> {
  const { rows } = await getPool().query<{ type: string; definition: WorkerDefinition; lease_seconds: number }>(
    'SELECT type, definition, lease_seconds FROM stitch_remote_types',
  );
  setRemoteTypes(rows.map((r): [string, RemoteType] => [r.type, { definition: r.definition, leaseSeconds: r.lease_seconds }]));
}

/** Every remote type with its online count and when a worker serving it was last seen. */
export async function listRemoteTypes(): Promise<Array<{ definition: WorkerDefinition; status: RemoteWorkerStatus }>> {
  const { rows } = await getPool().query(
    `SELECT t.type, t.definition, t.lease_seconds,
            count(w.worker_id) FILTER (WHERE w.last_seen_at > now() - make_interval(secs => $1))::int AS online,
            max(w.last_seen_at) AS last_seen_at
     FROM stitch_remote_types t LEFT JOIN stitch_remote_workers w ON t.type = ANY (w.types)
     GROUP BY t.type ORDER BY t.type`,
    [ONLINE_SECONDS],
  );
  setRemoteTypes(rows.map((r): [string, RemoteType] => [r.type, { definition: r.definition, leaseSeconds: r.lease_seconds }]));
  return rows.map((r) => ({
    definition: r.definition,
    status: { online: r.online, lastSeenAt: r.last_seen_at ? r.last_seen_at.toISOString() : null, leaseSeconds: r.lease_seconds },
  }));
}

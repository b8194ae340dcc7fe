/**
 * Remote worker types and the processes serving them: registration, presence (online = heard from
 * within ONLINE_SECONDS) and the refresh of the process's copy of remote definitions (the registry
 * reads it synchronously). The SQL is in src/lib/db/queries/remote-workers.ts.
 */
import type { RemoteWorkerStatus, WorkerDefinition } from '@/types/stitch';
import { ConflictError } from '@/lib/errors';
import { getPool } from '@/lib/db/pool';
import { listRemoteTypeStatus, readRemoteTypes, upsertRemoteWorker, type RemoteTypeRow } from '@/lib/db/queries/remote-workers';
import { WORKER_DEFINITIONS, workerRegistry } from '@/lib/workers/registry';
import { setRemoteTypes, type RemoteType } from '@/lib/workers/remote-types';

/**
 * A worker counts as online when it was heard from (register, poll, heartbeat) this recently: a
 * long-poll lasts at most 30 s, so a polling worker is never older than that plus a round trip.
 */
export const ONLINE_SECONDS = 45;
export const DEFAULT_LEASE_SECONDS = 30;

const toRemoteType = (r: RemoteTypeRow): [string, RemoteType] => [r.type, { definition: r.definition, leaseSeconds: r.leaseSeconds }];

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
    leaseSeconds: leaseSeconds ?? DEFAULT_LEASE_SECONDS,
  }));
  await upsertRemoteWorker(getPool(), workerId, rows);
  await refreshRemoteTypes();
}

/** Reload the process's copy of remote definitions (registry lookups read it synchronously). */
export async function refreshRemoteTypes(): Promise<void> {
  setRemoteTypes((await readRemoteTypes(getPool())).map(toRemoteType));
}

/** Every remote type with its online count and when a worker serving it was last seen (refreshes the copy too). */
export async function listRemoteTypes(): Promise<Array<{ definition: WorkerDefinition; status: RemoteWorkerStatus }>> {
  const rows = await listRemoteTypeStatus(getPool(), ONLINE_SECONDS);
  setRemoteTypes(rows.map(toRemoteType));
  return rows.map((r) => ({
    definition: r.definition,
    status: { online: r.online, lastSeenAt: r.lastSeenAt ? r.lastSeenAt.toISOString() : null, leaseSeconds: r.leaseSeconds },
  }));
}

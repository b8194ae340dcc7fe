/**
 * Remote worker types and the processes serving them: registration and removal within the limits,
 * presence (online = heard from within ONLINE_SECONDS) and the process's copy of remote definitions
 * (the registry reads it synchronously). The SQL is in src/lib/db/queries/remote-workers.ts.
 */
import type { RemoteWorkerStatus, WorkerDefinition } from '@/types/stitch';
import type { Limits } from '@/lib/config';
import { ConflictError, LimitReachedError, NotFoundError, ValidationError } from '@/lib/errors';
import { getPool, withTransaction } from '@/lib/db/pool';
import {
  deleteRemoteType,
  listRemoteTypeStatus,
  readRemoteTypes,
  registerRemoteWorker as upsertRemoteWorker,
  touchRemoteWorker,
  type RemoteTypeRow,
} from '@/lib/db/queries/remote-workers';
import { WORKER_DEFINITIONS, workerRegistry } from '@/lib/workers/registry';
import { setRemoteTypes, updateRemoteTypes, type RemoteType } from '@/lib/workers/remote-types';

/**
 * A worker counts as online when it was heard from (register, poll, heartbeat) this recently: a
 * long-poll lasts at most 30 s, so a polling worker is never older than that plus a round trip.
 */
export const ONLINE_SECONDS = 45;
export const DEFAULT_LEASE_SECONDS = 30;

const toRemoteType = (r: RemoteTypeRow): [string, RemoteType] => [r.type, { definition: r.definition, leaseSeconds: r.leaseSeconds }];

/**
 * Store (or update) the announced definitions and the worker's presence, in one transaction, within
 * the limits (docs/architecture.md, "Limits"): types per worker and a definition's size are
 * refused as bad input (400), more types or workers than the registry holds as `limit_reached`
 * (409). Types offline past STITCH_REMOTE_OFFLINE_SECONDS make room first. The process's copy is
 * updated with what changed, not re-read whole.
 */
export async function registerRemoteWorker(
  workerId: string,
  definitions: Array<WorkerDefinition & { leaseSeconds?: number }>,
  limits: Limits,
): Promise<void> {
  // A remote type may not shadow a local worker: nodes of that type would run in two places.
  const local = definitions.filter((d) => workerRegistry.has(d.id) || Object.prototype.hasOwnProperty.call(WORKER_DEFINITIONS, d.id));
  if (local.length) {
    throw new ConflictError(`Worker type(s) ${local.map((d) => `"${d.id}"`).join(', ')} are local workers of this server; choose other names.`);
  }
  if (definitions.length > limits.remoteTypesPerWorker) {
    throw new ValidationError(`A worker may announce at most ${limits.remoteTypesPerWorker} types (STITCH_MAX_REMOTE_TYPES_PER_WORKER); this one announced ${definitions.length}.`, [
      { code: 'too_big', field: 'workers', message: `at most ${limits.remoteTypesPerWorker} types` },
    ]);
  }
  const rows = definitions.map(({ leaseSeconds, ...definition }) => ({
    type: definition.id,
    definition,
    leaseSeconds: leaseSeconds ?? DEFAULT_LEASE_SECONDS,
  }));
  const oversized = rows.findIndex((r) => Buffer.byteLength(JSON.stringify(r.definition)) > limits.remoteDefinitionBytes);
  if (oversized >= 0) {
    throw new ValidationError(
      `The definition of "${rows[oversized].type}" is larger than ${limits.remoteDefinitionBytes} bytes as JSON (STITCH_MAX_REMOTE_DEFINITION_BYTES).`,
      [{ code: 'too_big', field: `workers.${oversized}`, message: `at most ${limits.remoteDefinitionBytes} bytes` }],
    );
  }
  const outcome = await withTransaction((client) => upsertRemoteWorker(client, workerId, rows, limits));
  if (!outcome.ok) {
    throw outcome.over === 'types'
      ? new LimitReachedError(`Registering these would store ${outcome.count} remote worker types`, limits.remoteTypes, 'STITCH_MAX_REMOTE_TYPES')
      : new LimitReachedError(`${outcome.count} remote workers are known`, limits.remoteWorkers, 'STITCH_MAX_REMOTE_WORKERS');
  }
  updateRemoteTypes(rows.map(toRemoteType), outcome.removed);
}

/** Remove a remote type; refused (409) while tasks of it are ready or leased. */
export async function removeRemoteType(type: string): Promise<void> {
  const outcome = await withTransaction((client) => deleteRemoteType(client, type));
  if (outcome === 'missing') throw new NotFoundError(`Remote worker type "${type}"`);
  if (outcome === 'open') throw new ConflictError(`Remote worker type "${type}" has open tasks (ready or leased): remove it once they are done.`);
  updateRemoteTypes([], [type]);
}

/** A poll: the worker was heard from; a new worker beyond STITCH_MAX_REMOTE_WORKERS is refused. */
export async function heardFromRemoteWorker(workerId: string, types: string[], limits: Limits): Promise<void> {
  if (!(await touchRemoteWorker(getPool(), workerId, types, limits.remoteWorkers))) {
    throw new LimitReachedError('No room for another remote worker', limits.remoteWorkers, 'STITCH_MAX_REMOTE_WORKERS');
  }
}

/** Reload the process's copy of remote definitions (registry lookups read it synchronously). */
export async function refreshRemoteTypes(): Promise<void> {
  setRemoteTypes((await readRemoteTypes(getPool())).map(toRemoteType));
}

/**
 * The catalogue's remote types: each with its online count and when a worker serving it was last
 * seen; types offline past STITCH_REMOTE_OFFLINE_SECONDS are left out (they stay usable until a
 * registration needs their room).
 */
export async function listRemoteTypes(limits: Limits): Promise<Array<{ definition: WorkerDefinition; status: RemoteWorkerStatus }>> {
  const rows = await listRemoteTypeStatus(getPool(), ONLINE_SECONDS, limits.remoteOfflineSeconds);
  return rows.map((r) => ({
    definition: r.definition,
    status: { online: r.online, lastSeenAt: r.lastSeenAt ? r.lastSeenAt.toISOString() : null, leaseSeconds: r.leaseSeconds },
  }));
}

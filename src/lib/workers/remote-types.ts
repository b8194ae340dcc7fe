/**
 * Remote worker types: definitions announced over HTTP by processes that pull their tasks
 * (docs/remote-workers.md). They live in `stitch_remote_types`; this is the process's copy, which
 * the registry consults after `WORKER_DEFINITIONS`, so a remote type passes the same save-time
 * type-check as a local one. It is refreshed from the database (`refreshRemoteTypes`,
 * src/lib/engine/remote-workers.ts) before a graph is compiled and when an unknown type is executed.
 */
import type { WorkerDefinition } from '@/types/stitch';

export interface RemoteType {
  definition: WorkerDefinition;
  /** How long a claimed task stays with its worker without a heartbeat. */
  leaseSeconds: number;
}

let remoteTypes = new Map<string, RemoteType>();
let loadedAt = 0;

/** Replace the process's copy with what the database holds. */
export function setRemoteTypes(types: Iterable<[string, RemoteType]>): void {
  remoteTypes = new Map(types);
  loadedAt = Date.now();
}

/** Change the copy where one registration or removal changed the table (the rest is as loaded). */
export function updateRemoteTypes(added: Iterable<[string, RemoteType]>, removed: Iterable<string>): void {
  const next = new Map(remoteTypes);
  for (const type of removed) next.delete(type);
  for (const [type, value] of added) next.set(type, value);
  remoteTypes = next;
}

/** Milliseconds since the copy was loaded. */
export function remoteTypesAgeMs(): number {
  return Date.now() - loadedAt;
}

export function getRemoteType(type: string): RemoteType | undefined {
  return remoteTypes.get(type);
}

export function isRemoteType(type: string): boolean {
  return remoteTypes.has(type);
}

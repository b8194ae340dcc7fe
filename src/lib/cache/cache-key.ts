/**
 * What a step-cache key is made of (src/lib/cache/step-cache.ts), without the database: whether a
 * node caches at all, and the key's prefix — the static half of the node's fingerprint (settings,
 * mappings, worker version) and the identity of the credentials the worker reads (each key's
 * variable name and where its value comes from, or none: mock mode), never their values. The
 * input completes the key in PostgreSQL (`stitch_cache_key`: jsonb's text form is canonical), so
 * that a settle statement can also compute the key of the successor it makes ready.
 */
import type { ExecutionGraph, ExecutionNode, WorkerDefinition } from '@/types/stitch';
import { credentialIdentity } from '@/lib/workers/integration-keys';
import { staticHashOf } from '@/lib/rerun/fingerprint';

export function cacheSettingOf(node: ExecutionNode, definition: WorkerDefinition | undefined): { ttlSeconds?: number } | undefined {
  const setting = node.cache ?? definition?.cache;
  if (!setting) return undefined;
  return setting === true ? {} : { ttlSeconds: setting.ttlSeconds };
}

/** The key's prefix: everything but the input. */
export function cacheKeyPrefix(graph: ExecutionGraph, versionId: string, node: ExecutionNode): string {
  return `${staticHashOf(graph, versionId, node.id)}|${credentialIdentity(node.workerType)}`;
}

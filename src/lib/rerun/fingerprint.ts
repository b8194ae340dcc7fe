/**
 * A node's work has an identity, its fingerprint (design §9): node type, worker type, the worker
 * definition's `version`, the node's settings (`config`) and its inbound edges' mappings — the
 * static half, hashed here once per version — and its input, hashed by PostgreSQL from the stored
 * jsonb (`stitch_input_fingerprint`: jsonb's text form is canonical). A completed instance gets its
 * fingerprint in the settling statement itself (stitch_fingerprint_of, 0016), so no hop pays a round trip.
 * Nothing run-specific enters it (no run id, instance id or time), and credentials enter only by
 * what the settings name: a key's value is never part of the settings.
 */
import { createHash } from 'node:crypto';
import type { ExecutionGraph } from '@/types/stitch';
import { getPool } from '@/lib/db/pool';
import { insertStaticHashes } from '@/lib/db/queries/rerun';
import { getWorkerDefinition } from '@/lib/workers/registry';

/** JSON with object keys sorted at every level: the same value always hashes the same. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value ?? null);
}

/** The static half of a node's fingerprint in this graph. */
export function staticHash(graph: ExecutionGraph, nodeId: string): string {
  const node = graph.nodes[nodeId];
  const definition = node.workerType ? getWorkerDefinition(node.workerType) : undefined;
  const identity = {
    type: node.type,
    workerType: node.workerType ?? null,
    version: definition?.version ?? 1,
    config: node.config,
    inbound: (graph.inEdges[nodeId] ?? []).map((e) => ({ source: e.source, mapping: e.mapping ?? null, case: e.case ?? null })),
  };
  return createHash('sha256').update(canonicalJson(identity)).digest('base64url').slice(0, 32);
}

const memo = new Map<string, string>();

/** The static half of a node's fingerprint, memoised by version and node. */
export function staticHashOf(graph: ExecutionGraph, versionId: string, nodeId: string): string {
  const key = `${versionId}\u0000${nodeId}`;
  let hash = memo.get(key);
  if (!hash) {
    hash = staticHash(graph, nodeId);
    if (memo.size > 50_000) memo.clear();
    memo.set(key, hash);
  }
  return hash;
}

export function staticHashes(graph: ExecutionGraph): Record<string, string> {
  return Object.fromEntries(Object.keys(graph.nodes).map((id) => [id, staticHash(graph, id)]));
}

const written = new Set<string>();

/**
 * Make sure the version's static hashes are stored (the settling statements read them). Once per
 * version per process; concurrent writers agree (same content) and the first one stays.
 */
export async function ensureStaticHashes(graph: ExecutionGraph, versionId: string): Promise<void> {
  if (written.has(versionId)) return;
  const hashes = staticHashes(graph);
  await insertStaticHashes(getPool(), versionId, hashes);
  written.add(versionId);
}

/**
 * Execution graphs by version id. Versions are immutable, so a graph read once is good forever;
 * the cache is bounded so a long-lived process with many versions does not grow without limit.
 */
import type { ExecutionGraph } from '@/types/stitch';
import { getVersion } from '@/lib/db/queries/flows';
import { toIdMap } from './id-map';
import { getPool } from '@/lib/db/pool';

const MAX_ENTRIES = 500;
const cache = new Map<string, Promise<ExecutionGraph>>();

export function getExecutionGraph(versionId: string): Promise<ExecutionGraph> {
  let entry = cache.get(versionId);
  if (!entry) {
    entry = getVersion(getPool(), versionId).then((v) => withIdMaps(v.executionGraph));
    entry.catch(() => cache.delete(versionId));
    if (cache.size >= MAX_ENTRIES) cache.delete(cache.keys().next().value as string);
    cache.set(versionId, entry);
  }
  return entry;
}

/** A graph read from JSON keys its maps by node id in ordinary objects: make them prototype-free. */
function withIdMaps(graph: ExecutionGraph): ExecutionGraph {
  return {
    ...graph,
    nodes: toIdMap(graph.nodes),
    adjacency: toIdMap(graph.adjacency),
    reverseAdjacency: toIdMap(graph.reverseAdjacency),
    inEdges: toIdMap(graph.inEdges),
    outEdges: toIdMap(graph.outEdges),
    ...(graph.scopes ? { scopes: toIdMap(graph.scopes) } : {}),
  };
}

/**
 * Eager dispatch through step-cache hits. When a settle claims a successor (claims.ts) that is a
 * cached worker taking its one upstream's output as its input — one inbound edge without a
 * mapping, no declared input fields, so mergeInput and validateInput leave that output as it is —
 * the settle statement itself computes the successor's cache key and, on a hit, settles it from
 * the entry; then the same for that node's claimed successor, down the chain
 * (stitch_settle_chain, 0019_cache_take.sql). A chain of hits costs one statement, and each hop
 * into a hit costs nothing beyond its settle. The first miss stays claimed: the runner executes it.
 */
import type { ExecutionGraph } from '@/types/stitch';
import { cacheKeyPrefix, cacheSettingOf } from '@/lib/cache/cache-key';
import { getWorkerDefinition } from '@/lib/workers/registry';
import { claimOne } from './claims';
import { downstreamArrivals, type Arrival } from './instances';
import { perGraph } from './per-graph';

/** One successor the statement may settle from the cache. */
export interface ChainStep {
  /** Its instance id (top-level: the node id). */
  i: string;
  /** The upstream whose output is its input (placed under this id when not an object). */
  from: string;
  /** Its cache key without the input (cache-key.ts). */
  prefix: string;
  /** Its own settle's arrivals, one claimed for the runner where possible. */
  arrivals: Array<Arrival & { e?: string }>;
}

/** A chain is cut here: a statement holds its run's lock while it walks. */
const MAX_STEPS = 32;

function passesOutputThrough(graph: ExecutionGraph, nodeId: string): boolean {
  const node = graph.nodes[nodeId];
  if (node.type !== 'worker' || !node.workerType) return false;
  const definition = getWorkerDefinition(node.workerType);
  const edges = graph.inEdges[nodeId];
  return (
    cacheSettingOf(node, definition) !== undefined &&
    definition !== undefined &&
    Object.keys(definition.input).length === 0 &&
    edges.length === 1 &&
    !edges[0].mapping
  );
}

/** The node ids of `graph` a chain may pass through. */
const chainableNodes = perGraph((graph): ReadonlySet<string> => new Set(Object.keys(graph.nodes).filter((id) => passesOutputThrough(graph, id))));

/** The chain after a top-level settle whose `arrivals` claimed a successor for `runnerId`. */
export function cachedChain(graph: ExecutionGraph, versionId: string, arrivals: Array<Arrival & { e?: string }>, runnerId: string): ChainStep[] {
  const steps: ChainStep[] = [];
  let claimed = arrivals.find((a) => a.e !== undefined);
  while (claimed && claimed.p.length === 0 && steps.length < MAX_STEPS && chainableNodes(graph).has(claimed.n)) {
    const next: Array<Arrival & { e?: string }> = downstreamArrivals(graph, claimed.n, []);
    claimOne(graph, next, runnerId);
    steps.push({ i: claimed.i, from: graph.inEdges[claimed.n][0].source, prefix: cacheKeyPrefix(graph, versionId, graph.nodes[claimed.n]), arrivals: next });
    claimed = next.find((a) => a.e !== undefined);
  }
  return steps;
}

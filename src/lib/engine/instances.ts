/**
 * Node instances: a node runs once per run at top level, and once per item inside splitter scopes.
 * An instance id is the node id followed by its item path: `scene`, `scene[3]`, `scene[3][0]`.
 */
import type { ExecutionEdge, ExecutionGraph } from '@/types/stitch';
import { innermostScope } from './scopes';

export function instanceIdOf(nodeId: string, itemPath: readonly number[] = []): string {
  return nodeId + itemPath.map((i) => `[${i}]`).join('');
}

export function parseInstanceId(instanceId: string): { nodeId: string; itemPath: number[] } {
  const match = /^([^[\]]+)((?:\[\d+\])*)$/.exec(instanceId);
  if (!match) return { nodeId: instanceId, itemPath: [] };
  const itemPath = [...match[2].matchAll(/\[(\d+)\]/g)].map((m) => Number(m[1]));
  return { nodeId: match[1], itemPath };
}

/** One downstream instance reached from a settling node: what `stitch_settle_node` expects. */
export interface Arrival {
  /** instance id */
  i: string;
  /** node id */
  n: string;
  /** item path */
  p: number[];
  /** arrivals contributed (edges from the settling node to this target) */
  c: number;
  /** live arrivals among them (edges that deliver data: not a switch case not taken, not from a skipped node) */
  l: number;
  /** arrivals needed before the target can run: its in-degree; null for a collector (stored at fan-out) */
  d: number | null;
  /** item index, for an arrival at the collector from inside its scope (counted on a fan-in shard) */
  k?: number;
}

/** An arrival at a windowed collector also counts towards its item, to release the next one. */
export interface ItemTick {
  /** the item row (`splitter[…][i]`) */
  item: string;
  c: number;
  /** the splitter instance */
  s: string;
  /** arrivals that complete an item: the collector's in-degree */
  d: number;
}

/**
 * The downstream instances a settling instance arrives at, one entry per target node. An edge into
 * the collector of the node's own scope leaves the item (the item path loses its last index).
 * `live(edge)` says whether the edge delivers data (default: all do). A splitter that settles
 * without fanning out (skipped, or failed) jumps to its collector with dead arrivals.
 */
export function downstreamArrivals(
  graph: ExecutionGraph,
  nodeId: string,
  itemPath: readonly number[],
  live: (edge: ExecutionEdge) => boolean = () => true,
): Arrival[] {
  const scope = innermostScope(graph, nodeId);
  if (graph.nodes[nodeId].type === 'splitter') {
    const collector = graph.scopes?.[nodeId]?.collector;
    if (!collector) return [];
    const d = graph.inEdges[collector].length;
    return [{ i: instanceIdOf(collector, itemPath), n: collector, p: [...itemPath], c: d, l: 0, d }];
  }
  const targets = new Map<string, Arrival>();
  for (const edge of graph.outEdges[nodeId] ?? []) {
    let arrival = targets.get(edge.target);
    if (!arrival) {
      const leaves = scope?.collector === edge.target;
      const path = leaves ? itemPath.slice(0, -1) : [...itemPath];
      arrival = leaves
        ? { i: instanceIdOf(edge.target, path), n: edge.target, p: path, c: 0, l: 0, d: null, k: itemPath[itemPath.length - 1] }
        : { i: instanceIdOf(edge.target, path), n: edge.target, p: path, c: 0, l: 0, d: graph.inEdges[edge.target].length };
      targets.set(edge.target, arrival);
    }
    arrival.c++;
    if (live(edge)) arrival.l++;
  }
  return [...targets.values()];
}

/** Ticks for the item this instance belongs to, when it arrives at a collector with a concurrency window. */
export function itemTicks(graph: ExecutionGraph, nodeId: string, itemPath: readonly number[]): ItemTick[] {
  const scope = innermostScope(graph, nodeId);
  if (!scope?.concurrency || scope.children.length === 0) return [];
  const c = (graph.outEdges[nodeId] ?? []).filter((e) => e.target === scope.collector).length;
  if (c === 0) return [];
  return [
    {
      item: instanceIdOf(scope.splitter, itemPath),
      c,
      s: instanceIdOf(scope.splitter, itemPath.slice(0, -1)),
      d: graph.inEdges[scope.collector].length,
    },
  ];
}

/**
 * Instance ids of a node's upstream instances: same item path (inside a scope the splitter's
 * upstream instance is its item row, `splitter[…][i]`). Collectors read their items in SQL.
 */
export function upstreamInstanceIds(graph: ExecutionGraph, nodeId: string, itemPath: readonly number[]): string[] {
  return [...new Set(graph.reverseAdjacency[nodeId] ?? [])].map((source) => instanceIdOf(source, itemPath));
}

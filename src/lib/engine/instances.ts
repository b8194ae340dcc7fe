/**
 * Node instances: a node runs once per run at top level, and once per item inside splitter scopes.
 * An instance id is the node id followed by its item path: `scene`, `scene[3]`, `scene[3][0]`.
 */
import type { ExecutionGraph } from '@/types/stitch';

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
  /** in-degree of the target: arrivals needed before it can run */
  d: number;
}

/** The downstream instances a settling instance arrives at, one entry per target node. */
export function downstreamArrivals(graph: ExecutionGraph, nodeId: string, itemPath: readonly number[]): Arrival[] {
  const counts = new Map<string, number>();
  for (const target of graph.adjacency[nodeId] ?? []) counts.set(target, (counts.get(target) ?? 0) + 1);
  return [...counts].map(([target, c]) => ({
    i: instanceIdOf(target, itemPath),
    n: target,
    p: [...itemPath],
    c,
    d: graph.inEdges[target].length,
  }));
}

/** Instance ids of a node's upstream instances (same item scope). */
export function upstreamInstanceIds(graph: ExecutionGraph, nodeId: string, itemPath: readonly number[]): string[] {
  return [...new Set(graph.reverseAdjacency[nodeId] ?? [])].map((source) => instanceIdOf(source, itemPath));
}

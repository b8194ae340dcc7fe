/**
 * What the engine derives from a compiled graph once and asks on every settle (claimable nodes,
 * cache-chainable nodes, output nodes): computed on first use, kept as long as the graph is
 * (graphs are cached per version and never change).
 */
import type { ExecutionGraph } from '@/types/stitch';

export function perGraph<T>(derive: (graph: ExecutionGraph) => T): (graph: ExecutionGraph) => T {
  const byGraph = new WeakMap<ExecutionGraph, T>();
  return (graph) => {
    if (!byGraph.has(graph)) byGraph.set(graph, derive(graph));
    return byGraph.get(graph) as T;
  };
}

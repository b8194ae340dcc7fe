/**
 * The input-merge rule (design §3): entry nodes receive the run input; any other node receives the
 * shallow merge of its upstream outputs in edge order. An edge with `data.mapping` contributes only
 * its mapped fields (dot paths or `{value}` constants); a non-object upstream output is placed under
 * the upstream node's id.
 */
import type { EdgeMapping, ExecutionGraph } from '@/types/stitch';
import { idMap } from './id-map';

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Read `a.b.0.c` from a value; undefined when any step is missing. */
export function readPath(value: unknown, path: string): unknown {
  let current: unknown = value;
  for (const key of path.split('.')) {
    if (current === null || current === undefined) return undefined;
    if (Array.isArray(current) && /^\d+$/.test(key)) current = current[Number(key)];
    else if (typeof current === 'object') current = (current as Record<string, unknown>)[key];
    else return undefined;
  }
  return current;
}

export function applyMapping(mapping: EdgeMapping, upstreamOutput: unknown): Record<string, unknown> {
  const out = idMap<unknown>();
  for (const [target, source] of Object.entries(mapping)) {
    const value = typeof source === 'string' ? readPath(upstreamOutput, source) : source.value;
    if (value !== undefined) out[target] = value;
  }
  return out;
}

/**
 * `upstream` maps upstream node id → its output (only upstreams that delivered data: a skipped
 * upstream is absent).
 */
export function mergeInput(graph: ExecutionGraph, nodeId: string, upstream: Record<string, unknown>, runInput: unknown): unknown {
  const edges = graph.inEdges[nodeId];
  if (edges.length === 0) return runInput;
  const merged = idMap<unknown>();
  for (const edge of edges) {
    if (!(edge.source in upstream)) continue;
    const output = upstream[edge.source];
    if (edge.mapping) Object.assign(merged, applyMapping(edge.mapping, output));
    else if (isPlainObject(output)) Object.assign(merged, output);
    else if (output !== undefined && output !== null) merged[edge.source] = output;
  }
  return merged;
}

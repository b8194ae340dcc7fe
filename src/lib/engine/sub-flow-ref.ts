/**
 * A `flow` node's reference to the flow it runs (`data.config: {flowId, version?}`), checked the
 * same way at save (compile) and at run time.
 */
import type { ExecutionGraph, ExecutionNode, SubFlowRef, ValidationIssue } from '@/types/stitch';
import { isUuid } from '@/lib/db/runs';

/** The node's reference, or the reason it is not one. */
export function parseSubFlowRef(node: ExecutionNode): SubFlowRef | ValidationIssue {
  const { flowId, version = 'latest' } = node.config;
  if (typeof flowId !== 'string' || !isUuid(flowId)) {
    return {
      code: 'invalid_flow_ref',
      nodeId: node.id,
      field: 'flowId',
      message: `Flow node "${node.id}" needs data.config.flowId: the id of the flow it runs (GET /api/flows lists them).`,
    };
  }
  if (version !== 'latest' && !(Number.isInteger(version) && version > 0)) {
    return {
      code: 'invalid_flow_ref',
      nodeId: node.id,
      field: 'version',
      message: `Flow node "${node.id}": data.config.version is a saved version number or "latest", not ${JSON.stringify(version)}.`,
    };
  }
  return { flowId, version };
}

export const isSubFlowRef = (value: SubFlowRef | ValidationIssue): value is SubFlowRef => 'flowId' in value;

/** Every well-formed flow reference in a compiled graph, by node id. */
export function subFlowRefsOf(graph: Pick<ExecutionGraph, 'nodes'>): Array<{ nodeId: string; ref: SubFlowRef }> {
  const refs: Array<{ nodeId: string; ref: SubFlowRef }> = [];
  for (const node of Object.values(graph.nodes)) {
    if (node.type !== 'flow') continue;
    const ref = parseSubFlowRef(node);
    if (isSubFlowRef(ref)) refs.push({ nodeId: node.id, ref });
  }
  return refs;
}

/** `flowId` or `flowId@3`: one key per distinct callee. */
export const refKey = (ref: SubFlowRef) => (ref.version === 'latest' ? ref.flowId : `${ref.flowId}@${ref.version}`);

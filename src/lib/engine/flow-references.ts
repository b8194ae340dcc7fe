/**
 * Save-time checks of `flow` nodes: every referenced flow (and pinned version) exists, no chain of
 * references leads back to the flow being saved (A → B → A, at any depth), and the callees'
 * signatures feed the type-check. Runs inside the saving transaction, after a transaction-scoped
 * advisory lock that every save with flow nodes takes: two concurrent saves (A → B, B → A) are
 * checked one after the other, and the second sees the first.
 */
import type { ExecutionGraph, FlowSignature, SubFlowRef, ValidationIssue } from '@/types/stitch';
import { checkFlowTypes, type SubFlowSignatures } from './check-inputs';
import { refKey, subFlowRefsOf } from './sub-flow-ref';
import { findCallee, flowName, lockFlowReferences, type Callee } from '@/lib/db/queries/flows';
import type { Queryable } from '@/lib/db/queries/queryable';

/** A callee's signature; versions saved before signatures existed get theirs computed. */
function signatureOf(graph: ExecutionGraph): FlowSignature {
  if (graph.signature) return graph.signature;
  const start = graph.order.map((id) => graph.nodes[id]).find((n) => n.type === 'start' && n.inputSchema);
  return { input: start?.inputSchema, output: checkFlowTypes(graph).output };
}

const describe = (ref: SubFlowRef) => (ref.version === 'latest' ? ref.flowId : `${ref.flowId} version ${ref.version}`);

/**
 * Check the `flow` nodes of a graph about to be saved as (a version of) `savingFlowId` (undefined:
 * a new or detached flow, which nothing can reference yet). Returns the callees' signatures and
 * the problems found.
 */
export async function checkFlowReferences(
  db: Queryable,
  savingFlowId: string | undefined,
  graph: ExecutionGraph,
): Promise<{ subFlows: SubFlowSignatures; issues: ValidationIssue[] }> {
  const refs = subFlowRefsOf(graph);
  const subFlows: SubFlowSignatures = {};
  const issues: ValidationIssue[] = [];
  if (refs.length === 0) return { subFlows, issues };
  await lockFlowReferences(db);

  const loaded = new Map<string, Callee | undefined>();
  const load = async (ref: SubFlowRef) => {
    const key = refKey(ref);
    if (!loaded.has(key)) loaded.set(key, await findCallee(db, ref, true));
    return loaded.get(key);
  };

  /**
   * A chain of flow names from `ref` back to the saving flow's version being saved (its `latest`),
   * if there is one. A pinned older version of the saving flow is immutable: walk through it.
   */
  const pathBack = async (ref: SubFlowRef, callee: Callee, seen: Set<string>): Promise<string[] | undefined> => {
    if (callee.flowId === savingFlowId && ref.version === 'latest') return [callee.name];
    if (seen.has(callee.versionId)) return undefined; // reached before (or a cycle elsewhere: the run-time depth limit guards it)
    seen.add(callee.versionId);
    for (const { ref: next } of subFlowRefsOf(callee.graph ?? { nodes: {} })) {
      const nextCallee = await load(next);
      const rest = nextCallee && (await pathBack(next, nextCallee, seen));
      if (rest) return [callee.name, ...rest];
    }
    return undefined;
  };

  const savingName = savingFlowId ? await flowName(db, savingFlowId) : undefined;
  for (const { nodeId, ref } of refs) {
    const callee = await load(ref);
    if (!callee) {
      issues.push({
        code: ref.version === 'latest' ? 'unknown_flow' : 'unknown_flow_version',
        nodeId,
        field: ref.version === 'latest' ? 'flowId' : 'version',
        message: `Flow node "${nodeId}" runs flow ${describe(ref)}, which does not exist (or was deleted).`,
      });
      continue;
    }
    const cycle = savingFlowId ? await pathBack(ref, callee, new Set()) : undefined;
    if (cycle) {
      issues.push({
        code: 'flow_reference_cycle',
        nodeId,
        field: 'flowId',
        message: `Flow node "${nodeId}" would make flows call each other in a cycle: ${[savingName ?? savingFlowId, ...cycle].join(' → ')}. A flow may not run itself through its sub-flows.`,
      });
      continue;
    }
    if (callee.graph) subFlows[refKey(ref)] = signatureOf(callee.graph);
  }
  return { subFlows, issues };
}

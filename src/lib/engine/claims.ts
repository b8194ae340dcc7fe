/**
 * Which successors a settle may claim for eager dispatch (eager-dispatch.ts): cheap, local,
 * synchronous nodes that become ready through this one arrival. Everything else — async and remote
 * workers, nodes under an integration limit or a concurrency or rate limit, UX gates, sub-flows, splitters, fan-ins — keeps its
 * queue job, so the queue still orders and throttles all work that waits or costs.
 */
import type { ExecutionGraph, ExecutionNode } from '@/types/stitch';
import { getWorkerDefinition, workerRegistry } from '@/lib/workers/registry';
import { limitFor } from '@/lib/workers/limits';
import { hasNodeLimits } from '@/lib/fair/limits';
import type { Arrival } from './instances';
import { perGraph } from './per-graph';

function isClaimable(node: ExecutionNode): boolean {
  if (node.type === 'start' || node.type === 'end' || node.type === 'switch') return true;
  if (node.type !== 'worker' || !node.workerType) return false;
  const type = node.workerType;
  return workerRegistry.has(type) && getWorkerDefinition(type)?.type === 'sync' && !limitFor(type) && !hasNodeLimits(node);
}

/** The node ids of `graph` that may be claimed. */
export const claimableNodes = perGraph((graph): ReadonlySet<string> => new Set(Object.values(graph.nodes).filter(isClaimable).map((n) => n.id)));

/**
 * Mark at most one arrival for `runnerId` (`e`): the first whose target is claimable and becomes
 * ready by this arrival alone (in-degree 1, live). stitch_arrive creates it leased to the runner.
 */
export function claimOne(graph: ExecutionGraph, arrivals: Array<Arrival & { e?: string }>, runnerId: string): void {
  const claimable = claimableNodes(graph);
  const target = arrivals.find((a) => a.k === undefined && a.d === 1 && a.c === 1 && a.l === 1 && claimable.has(a.n));
  if (target) target.e = runnerId;
}

/**
 * A settle's request to claim a successor for `runnerId`; after the settle, `claimed` holds the
 * instance id it claimed (attempt 1), which the caller must execute or hand back.
 */
export interface ClaimBox {
  runnerId: string;
  claimed?: string;
  /**
   * What the claimed instance's one upstream delivered (node id → settled output): the claimed
   * execution needs no read of it (in-degree 1, so this is all its input).
   */
  upstream?: Record<string, { status: string; output: unknown }>;
}

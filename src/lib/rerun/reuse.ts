/**
 * The engine's hook for re-runs: before a worker or UX node of a re-run executes, look for a
 * completed instance of the same node in the source run with the same fingerprint (any item of a
 * splitter: matched per item, by content), made with the same credential identity (a mock result
 * is never reused once a real key is set). Found: the node completes at once with that output,
 * `origin: "reused"`, `reusedFrom: {runId, instanceId}`, and `savedUsd` (what it cost when it
 * executed). Nodes the re-run forces (`fromNode` and downstream) always execute.
 */
import type { ExecutionGraph, ExecutionNode } from '@/types/stitch';
import { getPool } from '@/lib/db/pool';
import { findEarlierResult } from '@/lib/db/queries/rerun';
import { runSettingsOf } from '@/lib/db/run-settings';
import { settleNode, type NodeRef } from '@/lib/engine/transitions';
import type { ClaimBox } from '@/lib/engine/claims';
import { credentialIdentity } from '@/lib/workers/integration-keys';
import { ensureStaticHashes, staticHashOf } from './fingerprint';

/** Every node execution: make sure this version's fingerprints can be stored. */
export function prepareFingerprints(graph: ExecutionGraph, versionId: string): Promise<void> {
  return ensureStaticHashes(graph, versionId);
}

/**
 * For a worker or UX node of a re-run: complete it from the source run when its fingerprint
 * matches. `input` is what the node would store as its input (validated, for workers). True when
 * the node needs no execution (reused now, or already settled by a concurrent delivery).
 */
export async function reuseEarlierResult(
  graph: ExecutionGraph,
  node: ExecutionNode,
  ref: NodeRef,
  input: unknown,
  jobId?: string,
  /** Eager dispatch: the settle may claim a successor for this runner (see engine/claims.ts). */
  claim?: ClaimBox,
): Promise<boolean> {
  const plan = (await runSettingsOf(ref.runId)).rerun;
  if (!plan || plan.forced.includes(node.id)) return false;
  // The credentials enter the match as they enter the step-cache key: a mock result is never reused by a real run.
  const credentials = credentialIdentity(node.workerType);
  const earlier = await findEarlierResult(getPool(), plan.of, node.id, ref.instanceId, staticHashOf(graph, ref.versionId, node.id), input, credentials);
  if (!earlier) return false;
  await settleNode(graph, ref, {
    status: 'completed',
    output: earlier.output,
    input,
    merge: false,
    jobId,
    claim,
    metadata: {
      origin: 'reused',
      reusedFrom: { runId: plan.of, instanceId: earlier.instanceId },
      savedUsd: earlier.usd,
      ...(credentials === 'none' ? {} : { credentials }),
    },
  });
  return true;
}

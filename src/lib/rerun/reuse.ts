/**
 * The engine's hook for re-runs: before a worker or UX node of a re-run executes, look for a
 * completed instance of the same node in the source run with the same fingerprint (any item of a
 * splitter: matched per item, by content). Found: the node completes at once with that output,
 * `origin: "reused"`, `reusedFrom: {runId, instanceId}`, and `savedUsd` (what it cost when it
 * executed). Nodes the re-run forces (`fromNode` and downstream) always execute.
 */
import type { ExecutionGraph, ExecutionNode } from '@/types/stitch';
import { getPool } from '@/lib/db/pool';
import { runSettingsOf } from '@/lib/db/run-settings';
import { settleNode, type NodeRef } from '@/lib/engine/transitions';
import type { ClaimBox } from '@/lib/engine/claims';
import { ensureStaticHashes, staticHashOf } from './fingerprint';

export interface EarlierResult {
  runId: string;
  instanceId: string;
  output: unknown;
  /** What the earlier instance cost when it executed (its own usage, or what it saved in turn). */
  usd: number;
}

/** A completed instance of `nodeId` in `sourceRunId` with this fingerprint; the same instance id first. */
export async function findEarlierResult(sourceRunId: string, nodeId: string, instanceId: string, staticPart: string, input: unknown): Promise<EarlierResult | undefined> {
  const { rows } = await getPool().query<{ instance_id: string; output: unknown; usd: number }>(
    `SELECT s.instance_id, s.output,
            coalesce((SELECT sum(u.usd) FROM stitch_node_usage u WHERE u.run_id = s.run_id AND u.instance_id = s.instance_id), 0)
              + coalesce((s.metadata ->> 'savedUsd')::float8, 0) AS usd
     FROM (
       -- The same instance first (by primary key); else any item of the node with this content
       -- (stitch_node_runs_item_fingerprint_idx: only item instances are indexed by fingerprint).
       (SELECT * FROM stitch_node_runs WHERE run_id = $1 AND instance_id = $5 AND node_id = $2
          AND status = 'completed' AND fingerprint = stitch_input_fingerprint($3, $4::jsonb))
       UNION ALL
       (SELECT * FROM stitch_node_runs WHERE run_id = $1 AND node_id = $2 AND item_path <> '{}'
          AND status = 'completed' AND fingerprint = stitch_input_fingerprint($3, $4::jsonb) LIMIT 1)
     ) s
     LIMIT 1`,
    [sourceRunId, nodeId, staticPart, JSON.stringify(input ?? null), instanceId],
  );
  const r = rows[0];
  return r && { runId: sourceRunId, instanceId: r.instance_id, output: r.output, usd: Number(r.usd) };
}

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
  const earlier = await findEarlierResult(plan.of, node.id, ref.instanceId, staticHashOf(graph, ref.versionId, node.id), input);
  if (!earlier) return false;
  await settleNode(graph, ref, {
    status: 'completed',
    output: earlier.output,
    input,
    merge: false,
    jobId,
    claim,
    metadata: { origin: 'reused', reusedFrom: { runId: earlier.runId, instanceId: earlier.instanceId }, savedUsd: earlier.usd },
  });
  return true;
}

/**
 * `flow` nodes: run another flow as an ordinary child run, started through the one start path
 * (`startRun`). The node is `running` while its child runs; the child's final status settles it.
 *
 *   pending ──runSubFlow──▶ running ──child completed──▶ completed (output = the child's output)
 *                              └─────child failed / cancelled──▶ failAttempt (retry, continueOnError,
 *                                                                 or the run fails) — a retry is a new child
 *
 * The child run reaching its final status adds the `stitch_child_settled` job in that same commit
 * (0012_sub_flows.sql), and a parent run that fails or is cancelled adds `stitch_cancel_run` jobs
 * for its children in its own commit: nothing polls, and a crash loses neither.
 */
import type { ExecutionGraph, ExecutionNode } from '@/types/stitch';
import { ConflictError, NonRetriableError, coerceError } from '@/lib/errors';
import { getPool } from '@/lib/db/pool';
import { readNodeAttempt } from '@/lib/db/queries/node-attempt';
import { findCallee } from '@/lib/db/queries/flows';
import { linkChildRun, readSettledChild, runDepth } from '@/lib/db/queries/sub-flows';
import { budgetLeft } from '@/lib/budget/budget';
import { failAttempt } from './complete-node';
import { runtimeConfig } from '@/lib/runtime';
import { getExecutionGraph } from './graph-cache';
import { cancelRun, startRun } from './start-run';
import { isSubFlowRef, parseSubFlowRef } from './sub-flow-ref';
import { markRunning, settleNode, type NodeRef } from './transitions';


/** Execute a `flow` node attempt: mark it running and start (or find) its child run. */
export async function runSubFlow(graph: ExecutionGraph, node: ExecutionNode, ref: NodeRef, input: unknown): Promise<void> {
  try {
    await startChild(node, ref, input);
  } catch (error) {
    const failure = coerceError(error);
    await failAttempt(graph, ref, failure, { input });
  }
}

async function startChild(node: ExecutionNode, ref: NodeRef, input: unknown): Promise<void> {
  const target = parseSubFlowRef(node);
  if (!isSubFlowRef(target)) throw new NonRetriableError(target.message);
  const pool = getPool();
  const depth = (await runDepth(pool, ref.runId)) + 1;
  const limit = runtimeConfig().maxFlowDepth; // the started runtime's: nothing on the execute path rebuilds the config
  if (depth > limit) {
    throw new NonRetriableError(
      `Sub-flow depth limit reached: this run is already ${depth - 1} sub-flow level(s) deep (STITCH_MAX_FLOW_DEPTH=${limit}). ` +
        'A flow probably calls itself through a flow changed after it was saved.',
    );
  }
  const callee = await findCallee(pool, target);
  if (!callee) {
    const which = target.version === 'latest' ? target.flowId : `${target.flowId} version ${target.version}`;
    throw new NonRetriableError(`Flow node "${node.id}" runs flow ${which}, which no longer exists.`);
  }
  if (!(await markRunning(ref, input, null)) && !(await stillRunning(ref))) return; // settled or cancelled meanwhile
  const child = await startRun(
    { versionId: callee.versionId },
    {
      input,
      trigger: { type: 'flow', parentRunId: ref.runId, parentInstanceId: ref.instanceId },
      parent: { runId: ref.runId, instanceId: ref.instanceId, attempt: ref.attempt, depth },
      // A parent's budget covers its sub-flows: the child gets what is left of it.
      budgetUsd: await budgetLeft(ref.runId),
    },
  );
  if (!child.existing) await linkChild(ref, child.runId, callee.name);
}

/** A second execution of the same attempt (its runner died) finds the node running already. */
async function stillRunning(ref: NodeRef): Promise<boolean> {
  const state = await readNodeAttempt(getPool(), ref.runId, ref.instanceId);
  return state?.status === 'running' && state.attempt === ref.attempt && state.runStatus === 'running';
}

/** Show the child on the node (canvas link) and tell live viewers. */
async function linkChild(ref: NodeRef, childRunId: string, flowName: string): Promise<void> {
  await linkChildRun(getPool(), ref, childRunId, `sub-flow "${flowName}" running as run ${childRunId}`);
}

export interface ChildSettledPayload {
  /** Parent run, `flow` node instance, attempt; the child run. */
  r: string;
  i: string;
  a: number;
  c: string;
}

/** The `stitch_child_settled` job: settle the parent node attempt from its child's final status. */
export async function childSettledJob(payload: ChildSettledPayload): Promise<void> {
  const row = await readSettledChild(getPool(), payload.r, payload.i, payload.c);
  // The parent ended, or this attempt was settled or superseded: nothing to do.
  if (!row || row.attempt !== payload.a || (row.status !== 'running' && row.status !== 'pending')) return;
  const graph = await getExecutionGraph(row.versionId);
  const ref: NodeRef = { runId: payload.r, versionId: row.versionId, instanceId: payload.i, attempt: payload.a };
  if (row.childStatus === 'completed') {
    await settleNode(graph, ref, { status: 'completed', output: row.childOutput, merge: false, metadata: { childRunId: payload.c } });
    return;
  }
  const error =
    row.childStatus === 'cancelled'
      ? new NonRetriableError(`Sub-flow run ${payload.c} was cancelled`)
      : new Error(`Sub-flow run ${payload.c} failed: ${row.childError ?? 'no error message'}`);
  await failAttempt(graph, ref, error, { input: row.input });
}

/** The `stitch_cancel_run` job: a parent run ended early, so its child run is cancelled too. */
export async function cancelChildJob(payload: { r: string }): Promise<void> {
  try {
    await cancelRun(payload.r);
  } catch (error) {
    if (!(error instanceof ConflictError)) throw error; // the child had ended meanwhile
  }
}

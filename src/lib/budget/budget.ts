/**
 * Budgets: a run's spend cap in USD (`budgetUsd` on a start, a re-run or a trigger; else the
 * flow's default). Before a priced node executes, the run's recorded spend is compared with its
 * budget; once spend has reached it, the node does not start and the run fails with
 * `budget_exceeded`, naming the node. A soft cap: nodes already in flight finish (and their usage
 * counts), so a run can overshoot by at most one node per branch.
 *
 * A parent's budget covers its sub-flows: a run's spend includes its child runs' (at any depth),
 * and a child run starts with what is left of its parent's budget (`budgetLeft`).
 */
import type { ExecutionGraph, ExecutionNode } from '@/types/stitch';
import { NotFoundError } from '@/lib/errors';
import { getPool } from '@/lib/db/pool';
import { checkBudgetUsd } from './budget-usd';
import { updateFlowBudget } from '@/lib/db/queries/usage';
import { runSettingsOf } from '@/lib/db/run-settings';
import { abortRun, type NodeRef } from '@/lib/engine/transitions';
import { isPriced } from '@/lib/usage/prices';
import { roundUsd, runSpend } from '@/lib/usage/run-cost';

export const BUDGET_EXCEEDED = 'budget_exceeded';

/**
 * Before a priced worker node executes: true when the run's budget is spent — the run is then
 * failed with `budget_exceeded` at this node and the node must not execute.
 */
export async function stopForBudget(graph: ExecutionGraph, node: ExecutionNode, ref: NodeRef): Promise<boolean> {
  if (!isPriced(node.workerType)) return false;
  const budget = (await runSettingsOf(ref.runId)).budgetUsd;
  if (budget === null) return false;
  const spent = await spendOf(ref.runId);
  if (spent < budget) return false;
  const message = `${BUDGET_EXCEEDED}: the run spent $${spent} of its $${budget} budget; node ${ref.instanceId} (${node.workerType}) was not started`;
  await abortRun(graph, ref.runId, 'failed', message, { instanceId: ref.instanceId, attempt: ref.attempt, error: message });
  return true;
}

/** What a run and its sub-flows' runs have spent so far. */
async function spendOf(runId: string): Promise<number> {
  return (await runSpend([runId])).get(runId)?.usd ?? 0;
}

/** What is left of a run's budget (never below 0), or undefined when it has none: a child run's budget. */
export async function budgetLeft(runId: string): Promise<number | undefined> {
  const budget = (await runSettingsOf(runId)).budgetUsd;
  if (budget === null) return undefined;
  return Math.max(0, roundUsd(budget - (await spendOf(runId))));
}

/** A flow's default budget for its runs (null: none). */
export async function setFlowBudget(flowId: string, budgetUsd: number | null): Promise<void> {
  checkBudgetUsd(budgetUsd);
  if (!(await updateFlowBudget(getPool(), flowId, budgetUsd))) throw new NotFoundError(`Flow ${flowId}`);
}

/**
 * Budgets: a run's spend cap in USD (`budgetUsd` on a start, a re-run or a trigger; else the
 * flow's default). Before a priced node executes, the run's recorded spend is compared with its
 * budget; once spend has reached it, the node does not start and the run fails with
 * `budget_exceeded`, naming the node. A soft cap: nodes already in flight finish (and their usage
 * counts), so a run can overshoot by at most one node per branch.
 */
import type { ExecutionGraph, ExecutionNode } from '@/types/stitch';
import { NotFoundError } from '@/lib/errors';
import { getPool } from '@/lib/db/pool';
import { checkBudgetUsd } from './budget-usd';
import { sumRunSpend, updateFlowBudget } from '@/lib/db/queries/usage';
import { runSettingsOf } from '@/lib/db/run-settings';
import { abortRun, type NodeRef } from '@/lib/engine/transitions';
import { isPriced } from '@/lib/usage/prices';
import { roundUsd } from '@/lib/usage/run-cost';

export const BUDGET_EXCEEDED = 'budget_exceeded';

/**
 * Before a priced worker node executes: true when the run's budget is spent — the run is then
 * failed with `budget_exceeded` at this node and the node must not execute.
 */
export async function stopForBudget(graph: ExecutionGraph, node: ExecutionNode, ref: NodeRef): Promise<boolean> {
  if (!isPriced(node.workerType)) return false;
  const budget = (await runSettingsOf(ref.runId)).budgetUsd;
  if (budget === null) return false;
  const spent = roundUsd(await sumRunSpend(getPool(), ref.runId));
  if (spent < budget) return false;
  const message = `${BUDGET_EXCEEDED}: the run spent $${spent} of its $${budget} budget; node ${ref.instanceId} (${node.workerType}) was not started`;
  await abortRun(graph, ref.runId, 'failed', message, { instanceId: ref.instanceId, attempt: ref.attempt, error: message });
  return true;
}

/** A flow's default budget for its runs (null: none). */
export async function setFlowBudget(flowId: string, budgetUsd: number | null): Promise<void> {
  checkBudgetUsd(budgetUsd);
  if (!(await updateFlowBudget(getPool(), flowId, budgetUsd))) throw new NotFoundError(`Flow ${flowId}`);
}

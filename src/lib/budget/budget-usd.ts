/**
 * The one check of a stored budget (a flow's default, a trigger's, a schedule's) for writers that
 * do not pass the API's schema (the CLI). Kept apart from budget.ts (which reaches the engine) so
 * that query modules can use it.
 */
import { ValidationError } from '@/lib/errors';

/** A non-negative finite number of USD, or null for none. */
export function checkBudgetUsd(budgetUsd: unknown): asserts budgetUsd is number | null {
  if (budgetUsd !== null && (typeof budgetUsd !== 'number' || !Number.isFinite(budgetUsd) || budgetUsd < 0)) {
    throw new ValidationError('budgetUsd must be a non-negative number of USD, or null');
  }
}

/**
 * Retry a failed node instance as a new attempt: one transition, `stitch_retry_node`
 * (0006_attempt_rule.sql), that reopens the failed instance and what the failure cancelled or
 * skipped, re-enqueues what is ready, and makes a failed run running again, in one commit.
 */
import type { Queryable } from './queryable';

export interface RetryNodeResult {
  attempt?: number;
  /** Why nothing changed: run_not_found, node_not_found, run_not_retryable, item_error_collected, node_not_failed. */
  error?: string;
  /** The run's or node's status when `error` names it. */
  status?: string;
}

export async function retryNode(
  db: Queryable,
  r: { runId: string; versionId: string; instanceId: string; entryNodes: string[]; inDegree: Record<string, number> },
): Promise<RetryNodeResult> {
  const { rows } = await db.query<{ r: RetryNodeResult }>('SELECT stitch_retry_node($1, $2, $3, $4, $5::jsonb) AS r', [
    r.runId,
    r.versionId,
    r.instanceId,
    r.entryNodes,
    JSON.stringify(r.inDegree),
  ]);
  return rows[0].r;
}

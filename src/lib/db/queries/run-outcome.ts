/** A run's outcome so far, for callers that wait for it to end (MCP's run tools). */
import type { RunStatus } from '@/types/stitch';
import type { Queryable } from './queryable';

export interface RunOutcomeRow {
  status: RunStatus;
  output: unknown;
  error: string | null;
  /** Top-level node instances that have settled (completed, failed, skipped or cancelled). */
  settled: number;
}

export async function readRunOutcome(db: Queryable, runId: string): Promise<RunOutcomeRow> {
  const { rows } = await db.query<RunOutcomeRow>(
    `SELECT r.status, r.output, r.error,
            (SELECT count(*)::int FROM stitch_node_runs n WHERE n.run_id = r.id AND n.item_path = '{}'
               AND n.status IN ('completed', 'failed', 'skipped', 'cancelled')) AS settled
     FROM stitch_runs r WHERE r.id = $1`,
    [runId],
  );
  return rows[0];
}

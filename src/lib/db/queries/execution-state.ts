/**
 * What a queued execution reads before it runs (src/lib/engine/execute-node.ts): its run's status
 * (and input, for entry nodes), re-run plan and budget, its own status and attempt, and what its
 * upstream instances delivered. Prepared once per connection: every queued execution reads it.
 */
import type { Queryable } from './queryable';
import type { RunSettingsRow } from './start-run';

/** With the run's settings (RunSettingsRow), remembered for its later executions (run-settings.ts). */
export interface ExecutionStateRow extends RunSettingsRow {
  run_status: string;
  run_input: unknown;
  status: string;
  attempt: number;
  live: number;
  upstream: Record<string, { status: string; output: unknown }>;
}

export async function readExecutionState(
  db: Queryable,
  runId: string,
  instanceId: string,
  upstreamInstanceIds: string[],
  entry: boolean,
): Promise<ExecutionStateRow | undefined> {
  const { rows } = await db.query<ExecutionStateRow>({
    name: 'stitch_load_state',
    // A function, so that its plan is made once (0020_settle_plans.sql).
    text: 'SELECT * FROM stitch_execution_state($1, $2, $3, $4)',
    values: [runId, instanceId, upstreamInstanceIds, entry],
  });
  return rows[0];
}

/**
 * What a queued execution reads before it runs (src/lib/engine/execute-node.ts): its run's status
 * (and input, for entry nodes), re-run plan and budget, its own status and attempt, and what its
 * upstream instances delivered. Prepared once per connection: every queued execution reads it.
 */
import type { Queryable } from './queryable';

export interface ExecutionStateRow {
  run_status: string;
  run_input: unknown;
  rerun: { of: string; forced: string[] } | null;
  budget_usd: number | null;
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
    // The run input only for entry nodes: inside a 10,000-item fan-out it is the whole array, and
    // reading it for every item made the run quadratic (233 s instead of ~10 s for 10k items).
    text: `SELECT r.status AS run_status, CASE WHEN $4 THEN r.input END AS run_input, r.rerun, r.budget_usd, n.status, n.attempt, n.live,
            (SELECT coalesce(jsonb_object_agg(u.node_id, jsonb_build_object('status', u.status, 'output', u.output)), '{}')
             FROM stitch_node_runs u WHERE u.run_id = r.id AND u.instance_id = ANY ($3)) AS upstream
     FROM stitch_runs r JOIN stitch_node_runs n ON n.run_id = r.id
     WHERE r.id = $1 AND n.instance_id = $2`,
    values: [runId, instanceId, upstreamInstanceIds, entry],
  });
  return rows[0];
}

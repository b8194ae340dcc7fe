/**
 * `flow` nodes (0012_sub_flows.sql): a child run's depth, its link on the parent node, and what
 * the parent attempt and the child look like when the child has settled.
 */
import type { AttemptRef, Queryable } from './queryable';

/** How many sub-flow levels deep a run is (0: a top-level run). */
export async function runDepth(db: Queryable, runId: string): Promise<number> {
  const { rows } = await db.query<{ depth: number }>('SELECT depth FROM stitch_runs WHERE id = $1', [runId]);
  return rows[0].depth;
}

/** Show the child run on the parent node's attempt (`node:progress` event for live viewers). */
export async function linkChildRun(db: Queryable, ref: Omit<AttemptRef, 'versionId'>, childRunId: string, message: string): Promise<void> {
  await db.query(
    `WITH u AS (
       UPDATE stitch_node_runs SET metadata = metadata || jsonb_build_object('childRunId', $3::text, 'message', $4::text), updated_at = now()
       WHERE run_id = $1 AND instance_id = $2 AND attempt = $5 RETURNING attempt
     )
     SELECT stitch_emit($1, (SELECT jsonb_agg(jsonb_build_object('instanceId', $2::text, 'type', 'node:progress',
              'payload', jsonb_build_object('attempt', attempt, 'childRunId', $3::text, 'message', $4::text))) FROM u))`,
    [ref.runId, ref.instanceId, childRunId, message, ref.attempt],
  );
}

export interface SettledChild {
  /** The parent run's version and its `flow` node's current attempt. */
  versionId: string;
  status: string;
  attempt: number;
  input: unknown;
  childStatus: string;
  childOutput: unknown;
  childError: string | null;
}

/** The parent node and the child run, while the parent run is running. */
export async function readSettledChild(db: Queryable, parentRunId: string, instanceId: string, childRunId: string): Promise<SettledChild | undefined> {
  const { rows } = await db.query(
    `SELECT p.version_id, n.status, n.attempt, n.input, c.status AS child_status, c.output AS child_output, c.error AS child_error
     FROM stitch_runs p JOIN stitch_node_runs n ON n.run_id = p.id, stitch_runs c
     WHERE p.id = $1 AND n.instance_id = $2 AND c.id = $3 AND p.status = 'running'`,
    [parentRunId, instanceId, childRunId],
  );
  const r = rows[0];
  return (
    r && {
      versionId: r.version_id,
      status: r.status,
      attempt: r.attempt,
      input: r.input,
      childStatus: r.child_status,
      childOutput: r.child_output,
      childError: r.child_error,
    }
  );
}

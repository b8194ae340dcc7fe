/**
 * The one "run ⋈ node" read: a node instance's current attempt with its run's version and status.
 * Jobs and callbacks that act on an attempt read it first and do nothing when the run ended or the
 * attempt moved on.
 */
import type { Queryable } from './queryable';

export interface NodeAttempt {
  versionId: string;
  runStatus: string;
  status: string;
  attempt: number;
  /** Read only `withData` (null otherwise). */
  input: unknown;
  /** Read only `withData` (null otherwise). */
  output: unknown;
  metadata: Record<string, unknown>;
  startedAt: Date | null;
  deadlineAt: Date | null;
}

/**
 * `withData`: also the node's input and output, which in media flows can be large — only a caller
 * that uses them asks (a poll, a UX answer merged into the input); a callback's check does not.
 */
export async function readNodeAttempt(db: Queryable, runId: string, instanceId: string, withData = false): Promise<NodeAttempt | undefined> {
  const { rows } = await db.query(
    `SELECT r.version_id, r.status AS run_status, n.status, n.attempt, CASE WHEN $3 THEN n.input END AS input,
            CASE WHEN $3 THEN n.output END AS output, n.metadata, n.started_at, n.deadline_at
     FROM stitch_runs r JOIN stitch_node_runs n ON n.run_id = r.id
     WHERE r.id = $1 AND n.instance_id = $2`,
    [runId, instanceId, withData],
  );
  const r = rows[0];
  return (
    r && {
      versionId: r.version_id,
      runStatus: r.run_status,
      status: r.status,
      attempt: r.attempt,
      input: r.input,
      output: r.output,
      metadata: r.metadata,
      startedAt: r.started_at,
      deadlineAt: r.deadline_at,
    }
  );
}

/** A run's version, if the run exists. */
export async function runVersionOf(db: Queryable, runId: string): Promise<string | undefined> {
  const { rows } = await db.query<{ version_id: string }>('SELECT version_id FROM stitch_runs WHERE id = $1', [runId]);
  return rows[0]?.version_id;
}

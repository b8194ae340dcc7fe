/**
 * Reads of one run and its node instances for the API, and the engine's write of a running node's
 * intermediate state (`stitch_update_node_state`, behind the seed's `updateNodeState`).
 */
import type { RunDbRow } from '../rows';
import type { Queryable } from './queryable';

export async function readRunRow(db: Queryable, runId: string): Promise<RunDbRow | undefined> {
  const { rows } = await db.query<RunDbRow>('SELECT * FROM stitch_runs WHERE id = $1', [runId]);
  return rows[0];
}

export async function readNodeRunRows(db: Queryable, runId: string): Promise<Array<Record<string, unknown>>> {
  const { rows } = await db.query(`SELECT * FROM stitch_node_runs WHERE run_id = $1 ORDER BY created_at, instance_id`, [runId]);
  return rows;
}

export interface NodeStateWrite {
  runId: string;
  instanceId: string;
  /** The writing attempt, when known: a late write of attempt N never touches N+1. */
  attempt: number | null;
  setOutput: boolean;
  outputJson: string;
  progress: number | null;
  metadataJson: string;
  message: string | null;
}

export async function updateNodeStateRow(
  db: Queryable,
  w: NodeStateWrite,
): Promise<{ ok: boolean; found?: boolean; attempt?: number; status?: string; runStatus?: string }> {
  const { rows } = await db.query(
    'SELECT stitch_update_node_state($1, $2, $3, $4, $5::jsonb, $6, $7::jsonb, $8) AS r',
    [w.runId, w.instanceId, w.attempt, w.setOutput, w.outputJson, w.progress, w.metadataJson, w.message],
  );
  return rows[0].r;
}

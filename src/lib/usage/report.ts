/**
 * The engine's side of `reportUsage` (src/lib/workers/utils.ts): what a node's vendor call used,
 * priced from the price table and recorded against the attempt. Without the attempt (a callback's
 * `parseCallback`, a `poll()` outside it) it is the node's current attempt.
 */
import type pg from 'pg';
import { NotFoundError } from '@/lib/errors';
import { isUuid } from '@/lib/db/runs';
import type { UsageItem } from '@/lib/host/types';
import { priceOf } from './prices';


/** `items` are checked (`checkUsage`); `known` is what the reporting attempt already knows. */
export async function recordUsage(
  pool: pg.Pool,
  runId: string,
  nodeId: string,
  items: UsageItem[],
  known: { workerType?: string; attempt?: number } = {},
): Promise<void> {
  if (items.length === 0) return;
  if (!isUuid(runId)) throw new NotFoundError(`Run ${runId}`);
  let { workerType, attempt } = known;
  if (!workerType || attempt === undefined) {
    const { rows } = await pool.query<{ worker_type: string | null; attempt: number }>(
      `SELECT v.execution_graph #>> array['nodes', n.node_id, 'workerType'] AS worker_type, n.attempt
       FROM stitch_node_runs n JOIN stitch_runs r ON r.id = n.run_id JOIN stitch_flow_versions v ON v.id = r.version_id
       WHERE n.run_id = $1 AND n.instance_id = $2`,
      [runId, nodeId],
    );
    if (!rows[0]) throw new NotFoundError(`Node ${nodeId} of run ${runId}`);
    workerType ??= rows[0].worker_type ?? undefined;
    attempt ??= rows[0].attempt;
  }
  const priced = items.map((u) => ({ ...u, usd: priceOf(workerType, u.unit, u.quantity) }));
  await pool.query(
    `INSERT INTO stitch_node_usage (run_id, instance_id, attempt, worker_type, unit, quantity, usd, mock)
     SELECT $1, $2, $3, $4, u.unit, u.quantity, u.usd, u.mock
     FROM jsonb_to_recordset($5::jsonb) AS u(unit text, quantity float8, usd float8, mock boolean)`,
    [runId, nodeId, attempt, workerType ?? null, JSON.stringify(priced)],
  );
}

/**
 * `reportUsage(runId, nodeId, [{unit, quantity}])`: what a node's vendor call used, in the units
 * the vendor bills (`input_tokens`, `characters`, `video_seconds`, …). Priced from the price table
 * when reported. Callable from inside `execute` (sync, async, pseudo-async) and from code that
 * runs later for the node — a callback's `parseCallback`, a `poll()` — without the attempt: it is
 * then the node's current attempt.
 */
import { ValidationError, NotFoundError } from '@/lib/errors';
import { getPool } from '@/lib/db/pool';
import { isUuid } from '@/lib/db/runs';
import { currentAttemptFor, currentHarness } from '@/lib/engine/execution-context';
import { priceOf } from './prices';

export interface UsageItem {
  /** The unit the vendor bills: `input_tokens`, `output_tokens`, `characters`, `video_seconds`, … */
  unit: string;
  quantity: number;
  /** Reported by a mock: what the real call would have used. Priced all the same, and flagged. */
  mock?: boolean;
}

export function checkUsage(items: unknown): UsageItem[] {
  if (!Array.isArray(items)) throw new ValidationError('reportUsage: usage must be an array of {unit, quantity}');
  return items.map((item, i) => {
    const { unit, quantity, mock } = (item ?? {}) as Partial<UsageItem>;
    if (typeof unit !== 'string' || !/^[a-z][a-z0-9_]{0,63}$/.test(unit)) {
      throw new ValidationError(`reportUsage: usage[${i}].unit must be a snake_case unit name such as "input_tokens"`);
    }
    if (typeof quantity !== 'number' || !Number.isFinite(quantity) || quantity < 0) {
      throw new ValidationError(`reportUsage: usage[${i}].quantity must be a non-negative number`);
    }
    return { unit, quantity, mock: mock === true };
  });
}

export async function reportUsage(runId: string, nodeId: string, usage: UsageItem[]): Promise<void> {
  const items = checkUsage(usage);
  const harness = currentHarness(); // test seam: the worker harness records the usage
  if (harness) return harness.reportUsage?.(runId, nodeId, items);
  if (items.length === 0) return;
  if (!isUuid(runId)) throw new NotFoundError(`Run ${runId}`);
  const ctx = currentAttemptFor(runId, nodeId);
  let workerType = ctx?.workerType;
  let attempt = ctx?.attempt;
  if (!workerType || attempt === undefined) {
    const { rows } = await getPool().query<{ worker_type: string | null; attempt: number }>(
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
  await getPool().query(
    `INSERT INTO stitch_node_usage (run_id, instance_id, attempt, worker_type, unit, quantity, usd, mock)
     SELECT $1, $2, $3, $4, u.unit, u.quantity, u.usd, u.mock
     FROM jsonb_to_recordset($5::jsonb) AS u(unit text, quantity float8, usd float8, mock boolean)`,
    [runId, nodeId, attempt, workerType ?? null, JSON.stringify(priced)],
  );
}

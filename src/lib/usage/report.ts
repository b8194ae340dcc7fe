/**
 * The engine's side of `reportUsage` (src/lib/workers/utils.ts): what a node's vendor call used,
 * priced from the price table and recorded against the attempt. Without the attempt (a callback's
 * `parseCallback`, a `poll()` outside it) it is the node's current attempt.
 */
import type pg from 'pg';
import { NotFoundError } from '@/lib/errors';
import { isUuid } from '@/lib/db/runs';
import type { UsageItem } from '@/lib/host/types';
import { insertUsage, readUsageSubject } from '@/lib/db/queries/usage';
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
    const node = await readUsageSubject(pool, runId, nodeId);
    if (!node) throw new NotFoundError(`Node ${nodeId} of run ${runId}`);
    workerType ??= node.workerType ?? undefined;
    attempt ??= node.attempt;
  }
  const priced = items.map((u) => ({ ...u, usd: priceOf(workerType, u.unit, u.quantity) }));
  await insertUsage(pool, { runId, instanceId: nodeId, attempt, workerType: workerType ?? null }, JSON.stringify(priced));
}

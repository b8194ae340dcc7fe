/**
 * The step cache (opt-in: a node's `cache: true | {ttlSeconds}`, or the worker definition's
 * `cache`). Its key is the node's fingerprint without anything run-specific, plus the identity of
 * the credentials the worker reads, never their values (cache-key.ts).
 *
 * Single flight: the first node with a key claims it (a `running` row) and executes; an identical
 * node elsewhere waits for that result instead of calling the vendor again — up to
 * STITCH_CACHE_WAIT_SECONDS — and executes itself if the first one fails (its flight is dropped)
 * or the wait runs out. A flight ends with its node's settle (trigger in 0013).
 */
import type { ExecutionGraph, ExecutionNode, WorkerDefinition } from '@/types/stitch';
import { getPool } from '@/lib/db/pool';
import { deleteCacheEntries, markCacheWait, takeFlight, type Take as TakeOf } from '@/lib/db/queries/step-cache';
import { afterSettle, settleItem, type NodeRef, type Settle, type SettleResult } from '@/lib/engine/transitions';
import { settleJson } from '@/lib/engine/settle-batch';
import type { ClaimBox } from '@/lib/engine/claims';
import { runtimeConfig } from '@/lib/runtime';
import { runSettingsOf } from '@/lib/db/run-settings';
import { cacheKeyPrefix, cacheSettingOf } from './cache-key';

type Take = TakeOf<SettleResult>;

/**
 * An experiment's runs share identical work (docs/experiments.md): in a run of an experiment, a
 * worker node that does not cache is looked up and single-flighted like a cached one, under a key
 * scoped to the experiment — so its variants execute a node whose fingerprint they share once, and
 * nothing outside the experiment ever reads those entries. They expire after a day.
 */
const EXPERIMENT_SHARE_TTL_SECONDS = 86_400;

async function cacheScopeOf(node: ExecutionNode, definition: WorkerDefinition | undefined, runId: string): Promise<{ ttlSeconds?: number; scope?: string } | undefined> {
  const setting = cacheSettingOf(node, definition);
  if (setting) return setting;
  const experimentId = (await runSettingsOf(runId)).experimentId; // read with the node's state: no query
  return experimentId ? { ttlSeconds: EXPERIMENT_SHARE_TTL_SECONDS, scope: `experiment:${experimentId}` } : undefined;
}

/** How often a waiting twin looks at the flight it waits for. */
const WAIT_POLL_MS = 100;

/** Say on the waiting node whose flight it waits for (the run view shows it). */
async function announceWait(ref: NodeRef, flight: Take): Promise<boolean> {
  await markCacheWait(getPool(), ref, { runId: flight.runId ?? null, instanceId: flight.instanceId ?? null });
  return true;
}

/**
 * Before a cache-enabled worker node executes: complete it from the cache (true), or return false
 * when it must execute — then it holds the flight (or the wait ran out) and its result fills the entry.
 */
export async function completeFromStepCache(
  graph: ExecutionGraph,
  node: ExecutionNode,
  definition: WorkerDefinition | undefined,
  ref: NodeRef,
  input: unknown,
  jobId?: string,
  /** Eager dispatch: a hit's settle may claim a successor for this runner (see engine/claims.ts). */
  dispatch?: ClaimBox,
): Promise<boolean> {
  if (!node.workerType) return false;
  const setting = await cacheScopeOf(node, definition, ref.runId);
  if (!setting) return false;
  const deadline = Date.now() + runtimeConfig().cacheWaitSeconds * 1000;
  let announced = false;
  // A hit's settle: the stored output (filled in by the statement), and the hit's origin in metadata.
  // Built once, with the key's prefix, however long the node waits for another run's flight.
  const settle: Settle = { status: 'completed', output: null, input, merge: false, jobId, claim: dispatch };
  const item = settleItem(graph, ref, settle);
  const prefix = cacheKeyPrefix(graph, ref.versionId, node) + (setting.scope ? `|${setting.scope}` : '');
  const request = { inputJson: JSON.stringify(input ?? null), ttlSeconds: setting.ttlSeconds, settleJson: settleJson(item), jobId, asyncCommit: item.asyncCommit };
  for (;;) {
    // One statement (0019_cache_take.sql): claim the flight, or on a hit settle from the entry.
    const take: Take = await takeFlight<SettleResult>(getPool(), prefix, node.workerType!, ref, request);
    if (take.claimed) return false; // this node executes; its settle fills the entry
    if (take.settled) {
      afterSettle(ref, settle, item, take.settled);
      return true; // a hit (or the node was settled meanwhile by a concurrent delivery)
    }
    // Another run is computing it (single flight): wait for its result; if its flight is dropped
    // (it failed), the next claim makes this node the one that executes.
    if (Date.now() >= deadline) return false;
    if (!announced) announced = await announceWait(ref, take);
    await new Promise((resolve) => setTimeout(resolve, WAIT_POLL_MS));
  }
}

/** `DELETE /api/cache` and `stitch cache clear`: drop entries (of one worker type). */
export async function clearStepCache(workerType?: string): Promise<number> {
  return deleteCacheEntries(getPool(), workerType);
}

/**
 * The step cache (opt-in: a node's `cache: true | {ttlSeconds}`, or the worker definition's
 * `cache`). Its key is the node's fingerprint without anything run-specific — the static half
 * (settings, mappings, worker version) and the input — plus the identity of the credentials the
 * worker reads (each key's variable name and where its value comes from, and whether the worker
 * is in mock mode), never their values.
 *
 * Single flight: the first node with a key claims it (a `running` row) and executes; an identical
 * node elsewhere waits for that result instead of calling the vendor again — up to
 * STITCH_CACHE_WAIT_SECONDS — and executes itself if the first one fails (its flight is dropped)
 * or the wait runs out. A flight ends with its node's settle (trigger in 0013).
 */
import { createHash } from 'node:crypto';
import type { ExecutionGraph, ExecutionNode, WorkerDefinition } from '@/types/stitch';
import { getPool } from '@/lib/db/pool';
import { claimFlight, deleteCacheEntries, markCacheWait, type CacheRow } from '@/lib/db/queries/step-cache';
import { settleNode, type NodeRef } from '@/lib/engine/transitions';
import type { ClaimBox } from '@/lib/engine/claims';
import { secretSourceOf } from '@/lib/config';
import { API_KEY_NAME, workerSources } from '@/lib/workers/integration-keys';
import { canonicalJson } from '@/lib/rerun/fingerprint';
import { staticHashOf } from '@/lib/rerun/reuse';

/** How often a waiting twin looks at the flight it waits for. */
const WAIT_POLL_MS = 100;

export function cacheSettingOf(node: ExecutionNode, definition: WorkerDefinition | undefined): { ttlSeconds?: number } | undefined {
  const setting = node.cache ?? definition?.cache;
  if (!setting) return undefined;
  return setting === true ? {} : { ttlSeconds: setting.ttlSeconds };
}

const keyNames = new Map<string, string[]>();

/**
 * Which credentials a worker type reads and where each value comes from (environment, vault, or
 * none: mock mode) — names and sources only, never values. The names are read from the worker's
 * source once; the sources are looked up each time (a key may be set in the vault meanwhile).
 */
export function credentialIdentity(workerType: string): string {
  let names = keyNames.get(workerType);
  if (!names) {
    names = [...new Set(workerSources().get(workerType)?.match(API_KEY_NAME) ?? [])].sort();
    keyNames.set(workerType, names);
  }
  return names.map((name) => `${name}@${secretSourceOf(name)}`).join(',') || 'none';
}

export function cacheKeyOf(graph: ExecutionGraph, versionId: string, node: ExecutionNode, input: unknown): string {
  const identity = canonicalJson([staticHashOf(graph, versionId, node.id), input ?? null, credentialIdentity(node.workerType ?? '')]);
  return createHash('sha256').update(identity).digest('base64url');
}

async function completeFromCache(graph: ExecutionGraph, ref: NodeRef, input: unknown, row: CacheRow, jobId?: string, claim?: ClaimBox): Promise<void> {
  const from = { runId: row.run_id, instanceId: row.instance_id };
  await settleNode(graph, ref, {
    status: 'completed',
    output: row.output,
    input,
    merge: false,
    jobId,
    claim,
    metadata: { origin: 'cached', reusedFrom: from, savedUsd: Number(row.usd ?? 0) },
  });
}

/** Say on the waiting node whose flight it waits for (the run view shows it). */
async function announceWait(ref: NodeRef, row: CacheRow): Promise<boolean> {
  await markCacheWait(getPool(), ref, { runId: row.run_id, instanceId: row.instance_id });
  return true;
}

function waitSeconds(): number {
  const n = Number(process.env.STITCH_CACHE_WAIT_SECONDS ?? 120);
  return Number.isFinite(n) && n >= 0 ? n : 120;
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
  const setting = cacheSettingOf(node, definition);
  if (!setting || !node.workerType) return false;
  const key = cacheKeyOf(graph, ref.versionId, node, input);
  const deadline = Date.now() + waitSeconds() * 1000;
  let announced = false;
  for (;;) {
    const row = await claimFlight(getPool(), key, node.workerType, ref, setting.ttlSeconds);
    if (row.claimed) return false; // this node executes; its settle fills the entry
    if (row.status === 'ready' && !row.expired) {
      await completeFromCache(graph, ref, input, row, jobId, dispatch);
      return true;
    }
    // Another run is computing it (single flight): wait for its result; if its flight is dropped
    // (it failed), the next claim makes this node the one that executes.
    if (Date.now() >= deadline) return false;
    if (!announced) announced = await announceWait(ref, row);
    await new Promise((resolve) => setTimeout(resolve, WAIT_POLL_MS));
  }
}

/** `DELETE /api/cache` and `stitch cache clear`: drop entries (of one worker type). */
export async function clearStepCache(workerType?: string): Promise<number> {
  return deleteCacheEntries(getPool(), workerType);
}

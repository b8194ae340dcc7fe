/**
 * Named state transitions of a node instance. Each is one SQL function call (one round trip, one
 * commit) that compare-and-sets the row and, in the same transaction, creates downstream
 * instances, enqueues their jobs, appends events and notifies listeners (see 0001_init.sql).
 *
 *   pending ──markRunning──▶ running ──settle(completed)──▶ completed
 *      ▲                        │ └───settle(failed, continueOnError)──▶ failed (downstream runs)
 *      └──────scheduleRetry─────┤
 *                               └───abortRun(failed)──▶ failed (run failed, open work cancelled,
 *                                                        unreached nodes skipped)
 */
import { createHash } from 'node:crypto';
import type { ExecutionEdge, ExecutionGraph } from '@/types/stitch';
import type { RetryPolicy } from '@/types/stitch';
import type { PoolClient } from 'pg';
import { getPool } from '@/lib/db/pool';
import { abortRun as abortRunQuery, markRunning as markRunningQuery, scheduleRetry as scheduleRetryQuery } from '@/lib/db/queries/transitions';
import { cachedChain } from './cached-chain';
import { claimOne, type ClaimBox } from './claims';
import { outputNodesOf } from './output-nodes';
import { settleWith, submitSettle, type SettleItem, type SettleResult } from './settle-batch';
import { downstreamArrivals, itemTicks, parseInstanceId } from './instances';
import { notifySoon } from './notify-soon';
import { retryTransient } from '@/lib/db/transient';
import { topLevelNodes } from './scopes';

import type { NodeRef } from './node-ref';
export type { NodeRef } from './node-ref';

export type { SettleResult } from './settle-batch';

export function completionHash(status: string, output: unknown, error: unknown): string {
  return createHash('sha256').update(JSON.stringify([status, output ?? null, error ?? null])).digest('base64url');
}

/** A settle's data and options (see settleNode). */
export interface Settle {
  status: 'completed' | 'failed' | 'skipped';
  output: unknown;
  error?: string;
  input?: unknown;
  startedAt?: Date;
  merge: boolean;
  hash?: string;
  /** The queue job that executed this attempt, completed in the same statement. */
  jobId?: string;
  /** Which outgoing edges deliver data (default: all). */
  live?: (edge: ExecutionEdge) => boolean;
  /** Merged into the instance's metadata (e.g. the switch case taken). */
  metadata?: Record<string, unknown>;
  /** Claim one cheap successor for this runner (eager dispatch); set to what was claimed. */
  claim?: ClaimBox;
  /** A client inside a transaction the caller owns (default: the pool, its own transaction). */
  db?: Pick<PoolClient, 'query'>;
}

/**
 * Settle an instance with data for downstream: `completed`, or `failed` on a continueOnError node
 * (then `output` is `{error}`). `merge`: merge `output` over the stored output (async workers stored
 * their input there). `skipped` (every arrival dead) and item errors a collector collects
 * (`failed` with `live: () => false`) pass dead arrivals on; a switch passes `live` for its case.
 */
export async function settleNode(graph: ExecutionGraph, ref: NodeRef, settle: Settle): Promise<SettleResult> {
  const item = settleItem(graph, ref, settle);
  // Inside a caller's transaction the settle goes alone on its client; otherwise it may be batched.
  const result = await retryTransient('settle', () => (settle.db ? settleWith(settle.db, item) : submitSettle(item)));
  return afterSettle(ref, settle, item, result);
}

/** The statement's arguments for a settle (sent by settleNode, or inside a cache hit's statement). */
export function settleItem(graph: ExecutionGraph, ref: NodeRef, settle: Settle): SettleItem {
  const { nodeId, itemPath } = parseInstanceId(ref.instanceId);
  const arrivals = downstreamArrivals(graph, nodeId, itemPath, settle.live);
  if (settle.claim) claimOne(graph, arrivals, settle.claim.runnerId);
  const chain = settle.claim && itemPath.length === 0 ? cachedChain(graph, ref.versionId, arrivals, settle.claim.runnerId) : [];
  return {
    run: ref.runId,
    version: ref.versionId,
    instance: ref.instanceId,
    attempt: ref.attempt,
    status: settle.status,
    output: settle.output,
    error: settle.error,
    input: settle.input,
    startedAt: settle.startedAt,
    merge: settle.merge,
    arrivals,
    outputNodes: outputNodesOf(graph),
    hash: settle.hash,
    // Items, and settles inside a runner's eager chain, leave their NOTIFY to notifySoon: one per
    // run for many settles. A settle that queues work or may end the run still notifies at once.
    extra: { metadata: settle.metadata, ticks: itemTicks(graph, nodeId, itemPath), notify: itemPath.length === 0 && !settle.claim },
    chain: chain.length ? chain : undefined,
    jobId: settle.jobId,
    // An item settled inside its own queue job commits asynchronously: a crash can only lose it
    // together with the job's completion (same commit), and the job then runs again. Callbacks
    // from outside (no job) stay durable before they are acknowledged.
    asyncCommit: itemPath.length > 0 && settle.jobId !== undefined,
  };
}

/** What follows a settle in this process: the deferred NOTIFY, and the successor it claimed. */
export function afterSettle(ref: NodeRef, settle: Settle, item: SettleItem, result: SettleResult): SettleResult {
  if (!item.extra.notify && result.ok) notifySoon(ref.runId);
  if (settle.claim && result.ok) {
    settle.claim.claimed = result.ready?.find((x) => x.e !== undefined)?.i;
    // After a chain of cache hits (cached-chain.ts), the upstream of the claimed one is the last hit.
    const upstream = result.last === undefined ? { nodeId: parseInstanceId(ref.instanceId).nodeId, status: settle.status } : { nodeId: result.last, status: 'completed' };
    if (settle.claim.claimed) settle.claim.upstream = { [upstream.nodeId]: { status: upstream.status, output: result.output } };
  }
  return result;
}

/**
 * pending → running. For async workers `deadlineSeconds` schedules the callback-deadline job, and
 * the same attempt may be marked again: its execute job was delivered again because the process
 * that ran it died before the hand-off ended the job, so the worker must run again (at least once).
 */
export async function markRunning(ref: NodeRef, input: unknown, deadlineSeconds: number | null): Promise<boolean> {
  return retryTransient('markRunning', () => markRunningQuery(getPool(), ref, JSON.stringify(input ?? null), deadlineSeconds));
}

/** Exponential backoff with ±25% jitter, capped. `attempt` is the attempt that just failed (1-based). */
export function backoffDelayMs(policy: RetryPolicy, attempt: number, random = Math.random): number {
  const base = Math.min(policy.maxBackoffMs, policy.backoffMs * 2 ** (attempt - 1));
  return Math.max(0, Math.round(base * (0.75 + random() * 0.5)));
}

export async function scheduleRetry(ref: NodeRef, error: string, delayMs: number): Promise<boolean> {
  return retryTransient('scheduleRetry', () => scheduleRetryQuery(getPool(), ref, error, Math.min(delayMs, 2_000_000_000)));
}

/** End the run: `failed` (with the failing instance) or `cancelled`. False when nothing changed. */
export async function abortRun(
  graph: ExecutionGraph,
  runId: string,
  status: 'failed' | 'cancelled',
  error: string,
  failing?: { instanceId: string; attempt: number; error: string },
): Promise<boolean> {
  return retryTransient('abort', () =>
    abortRunQuery(getPool(), { runId, status, error, failing, topLevelNodes: topLevelNodes(graph) }),
  );
}

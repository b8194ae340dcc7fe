/**
 * Settles leave this process through here. While one settle statement is in flight, the next ones
 * queue and go together as one statement and one commit (`stitch_settle_batch`): under load a node
 * then costs a fraction of a round trip and of a commit, and an idle process still sends each
 * settle at once, alone. graphile-worker batches its job completions the same way.
 *
 * A batch that fails for a reason of its own (not the connection) is resent item by item, so that
 * an error belongs to the settle that caused it and the others are unaffected. A connection failure
 * fails every item of the batch; each caller's retry then resends it (the attempt rule makes a
 * settle that did commit a no-op).
 */
import type { PoolClient } from 'pg';
import { getPool } from '@/lib/db/pool';
import { isInfrastructureError } from '@/lib/db/transient';
import { settleItems } from '@/lib/db/queries/settle';
import type { ChainStep } from './cached-chain';

/** The arguments of one `stitch_settle_node` call (see transitions.ts), sent as JSON (settleJson). */
export interface SettleItem {
  run: string;
  version: string;
  instance: string;
  attempt: number;
  status: string;
  output: unknown;
  error?: string;
  input?: unknown;
  startedAt?: Date;
  merge: boolean;
  arrivals: unknown[];
  outputNodes: readonly string[];
  /** Claimed successors the statement may settle from the step cache (cached-chain.ts). */
  chain?: ChainStep[];
  hash?: string;
  extra: Record<string, unknown>;
  /** The queue job completed in the same commit. */
  jobId?: string;
  /** May commit asynchronously (an item settled inside its own queue job). */
  asyncCommit: boolean;
}

export interface SettleResult {
  ok: boolean;
  /** Instances made ready; `e` marks one claimed by this runner (no queue job was added for it). */
  ready?: Array<{ i: string; e?: string }>;
  run?: string | null;
  /** The output as stored, returned only when a successor was claimed (its input). */
  output?: unknown;
  /** The last instance settled from the cache down the item's chain, if any (its output is `output`). */
  last?: string;
}


/** Statements in flight at once from this process; more settles wait and go as one batch. */
const MAX_IN_FLIGHT = 2;
/** Items per batch at most (a batch holds its runs' locks until it commits). */
const MAX_BATCH = 32;

interface Waiting {
  item: SettleItem;
  resolve: (row: SettleResult) => void;
  reject: (error: unknown) => void;
}

const queue: Waiting[] = [];
let inFlight = 0;

export function submitSettle(item: SettleItem): Promise<SettleResult> {
  return new Promise((resolve, reject) => {
    queue.push({ item, resolve, reject });
    pump();
  });
}

function pump(): void {
  while (inFlight < MAX_IN_FLIGHT && queue.length > 0) {
    const batch = queue.splice(0, MAX_BATCH);
    inFlight++;
    void send(batch).finally(() => {
      inFlight--;
      pump();
    });
  }
}

async function send(batch: Waiting[]): Promise<void> {
  if (batch.length === 1) return settleAlone(batch[0]);
  try {
    const results = await settleStatement(getPool(), batch.map((w) => w.item));
    batch.forEach((w, i) => w.resolve(results[i]));
  } catch (error) {
    if (isInfrastructureError(error)) {
      for (const w of batch) w.reject(error);
      return;
    }
    // One item's own fault (it would have failed alone): resend one by one, each with its own outcome.
    await Promise.all(batch.map((w) => settleAlone(w)));
  }
}

async function settleAlone(w: Waiting): Promise<void> {
  try {
    w.resolve(await settleWith(getPool(), w.item));
  } catch (error) {
    w.reject(error);
  }
}

/**
 * One settle statement on `db`, not batched: for a caller whose settle must commit inside its own
 * transaction (a re-run reusing a whole splitter scope, src/lib/rerun/reuse-scope.ts).
 */
export async function settleWith(db: Pick<PoolClient, 'query'>, item: SettleItem): Promise<SettleResult> {
  return (await settleStatement(db, [item]))[0];
}

/** The one settle statement, for one item or many: one encoding of a settle, whoever sends it. */
function settleStatement(db: Pick<PoolClient, 'query'>, items: SettleItem[]): Promise<SettleResult[]> {
  return settleItems<SettleResult>(
    db,
    JSON.stringify(items.map(settleJson)),
    items.flatMap((item) => (item.jobId ? [item.jobId] : [])),
    items.every((item) => item.asyncCommit),
  );
}

/** An item as stitch_settle_batch (and stitch_cache_take) reads it: an absent key is SQL NULL. */
export function settleJson(item: SettleItem): Record<string, unknown> {
  return {
    run: item.run,
    version: item.version,
    instance: item.instance,
    attempt: item.attempt,
    status: item.status,
    output: item.output ?? null,
    error: item.error,
    input: item.input,
    startedAt: item.startedAt?.toISOString(),
    merge: item.merge,
    arrivals: item.arrivals,
    outputNodes: item.outputNodes,
    chain: item.chain,
    hash: item.hash,
    extra: item.extra,
  };
}

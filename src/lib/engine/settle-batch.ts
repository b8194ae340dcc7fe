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

/** The arguments of one `stitch_settle_node` call (see transitions.ts). */
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
  outputNodes: string[];
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
}

/**
 * After the settles, in the same statement: complete the queue jobs that executed them (none: not
 * called) and choose the commit's durability.
 */
const jobsAndCommit = (jobs: string, asyncCommit: string) =>
  `CASE WHEN ${jobs}::bigint[] IS NOT NULL THEN (SELECT count(*) FROM graphile_worker.complete_jobs(${jobs}::bigint[])) END AS jobs_completed,
  set_config('synchronous_commit', CASE WHEN ${asyncCommit} THEN 'off' ELSE current_setting('synchronous_commit') END, true) AS sync`;

const SETTLE = `SELECT stitch_settle_node($1, $2, $3, $4, $5, $6::jsonb, $7, $8::jsonb, $9, $10, $11::jsonb, $12, $13, $15::jsonb) AS r,
  ${jobsAndCommit('$14', '$16')}`;

const SETTLE_BATCH = `SELECT stitch_settle_batch($1::jsonb) AS r, ${jobsAndCommit('$2', '$3')}`;

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
    const jobs = batch.flatMap((w) => (w.item.jobId ? [w.item.jobId] : []));
    const { rows } = await getPool().query<{ r: SettleResult[] }>(SETTLE_BATCH, [
      JSON.stringify(batch.map((w) => batchArgs(w.item))),
      jobs.length ? jobs : null,
      batch.every((w) => w.item.asyncCommit),
    ]);
    batch.forEach((w, i) => w.resolve(rows[0].r[i]));
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
  const { rows } = await db.query<{ r: SettleResult }>(SETTLE, [
      item.run,
      item.version,
      item.instance,
      item.attempt,
      item.status,
      JSON.stringify(item.output ?? null),
      item.error ?? null,
      item.input === undefined ? null : JSON.stringify(item.input),
      item.startedAt ?? null,
      item.merge,
      JSON.stringify(item.arrivals),
      item.outputNodes,
      item.hash ?? null,
      item.jobId ? [item.jobId] : null,
      JSON.stringify(item.extra),
      item.asyncCommit,
    ]);
  return rows[0].r;
}

/** An item as stitch_settle_batch reads it: absent keys are SQL NULL, as in the single statement. */
function batchArgs(item: SettleItem): Record<string, unknown> {
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
    hash: item.hash,
    extra: item.extra,
  };
}

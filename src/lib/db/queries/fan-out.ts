/**
 * Splitters and collectors (`stitch_fan_out`, `stitch_collect`): one statement fans a scope out
 * or gathers its items' results, and completes the queue job that ran it in the same commit.
 */
import type { AttemptRef, Queryable } from './queryable';

const COMPLETE_JOBS = '(SELECT count(*) FROM graphile_worker.complete_jobs($JOB::bigint[]))';

export interface FanOut {
  itemsJson: string;
  itemKey: string | null;
  inputJson: string;
  spec: Record<string, unknown>;
  outputNodes: readonly string[];
  jobIds: string[];
}

export async function fanOut(db: Queryable, ref: AttemptRef, f: FanOut): Promise<void> {
  await db.query(
    `SELECT stitch_fan_out($1, $2, $3, $4, $5::jsonb, $6, $7::jsonb, now(), $8::jsonb, $9) AS r, ${COMPLETE_JOBS.replace('$JOB', '$10')}`,
    [ref.runId, ref.versionId, ref.instanceId, ref.attempt, f.itemsJson, f.itemKey, f.inputJson, JSON.stringify(f.spec), f.outputNodes, f.jobIds],
  );
}

export interface Collect {
  spec: Record<string, unknown>;
  arrivals: unknown;
  outputNodes: readonly string[];
  extra: Record<string, unknown>;
  jobIds: string[];
}

/** The collector settles with every item's result; the result is `stitch_settle_node`'s. */
export async function collect<R>(db: Queryable, ref: AttemptRef, c: Collect): Promise<R> {
  const { rows } = await db.query<{ r: R }>(
    `SELECT stitch_collect($1, $2, $3, $4, $5::jsonb, now(), $6::jsonb, $7, $8::jsonb) AS r, ${COMPLETE_JOBS.replace('$JOB', '$9')}`,
    [
      ref.runId,
      ref.versionId,
      ref.instanceId,
      ref.attempt,
      JSON.stringify(c.spec),
      JSON.stringify(c.arrivals),
      c.outputNodes,
      JSON.stringify(c.extra),
      c.jobIds,
    ],
  );
  return rows[0].r;
}

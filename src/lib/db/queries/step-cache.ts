/**
 * The step cache (`stitch_cache`, 0013_rerun_cache_usage.sql, 0019_cache_take.sql): single-flight
 * claims of a cache key (a hit settles in the same statement), the node that waits for another's
 * flight, and clearing entries. A flight ends with its
 * node's settle (a trigger).
 */
import type { AttemptRef, Queryable } from './queryable';

/** What stitch_cache_take found: the flight is this node's, a hit (settled), or another's flight. */
export interface Take<Settled> {
  claimed: boolean;
  status: 'running' | 'ready' | null;
  /** The hit's settle result (the engine's SettleResult). */
  settled?: Settled;
  runId?: string;
  instanceId?: string;
}

/**
 * Claim the flight of the key (`keyPrefix` and the input's jsonb text, hashed in PostgreSQL) for
 * this attempt; or, on a hit, settle the node with the stored output (`settleJson`: the settle
 * item, its output filled in by the statement) and complete its job.
 */
export async function takeFlight<Settled>(
  db: Queryable,
  keyPrefix: string,
  workerType: string,
  ref: AttemptRef,
  t: { inputJson: string; ttlSeconds: number | undefined; settleJson: unknown; jobId: string | undefined; asyncCommit: boolean },
): Promise<Take<Settled>> {
  const { rows } = await db.query<{ r: Take<Settled> }>('SELECT stitch_cache_take($1, $2::jsonb, $3, $4, $5, $6, $7, $8::jsonb, $9, $10) AS r', [
    keyPrefix,
    t.inputJson,
    workerType,
    ref.runId,
    ref.instanceId,
    ref.attempt,
    t.ttlSeconds ?? null,
    JSON.stringify(t.settleJson),
    t.jobId ?? null,
    t.asyncCommit,
  ]);
  return rows[0].r;
}

/** Say on the waiting node whose flight it waits for (`metadata.cacheWait`). */
export async function markCacheWait(db: Queryable, ref: { runId: string; instanceId: string }, flight: { runId: string | null; instanceId: string | null }): Promise<void> {
  await db.query(
    `UPDATE stitch_node_runs SET metadata = metadata || jsonb_build_object('cacheWait', jsonb_build_object('runId', $3::text, 'instanceId', $4::text))
     WHERE run_id = $1 AND instance_id = $2`,
    [ref.runId, ref.instanceId, flight.runId, flight.instanceId],
  );
}

/** Drop entries (of one worker type); how many. */
export async function deleteCacheEntries(db: Queryable, workerType?: string): Promise<number> {
  const { rowCount } = await db.query('DELETE FROM stitch_cache WHERE $1::text IS NULL OR worker_type = $1', [workerType ?? null]);
  return rowCount ?? 0;
}

/**
 * The step cache (`stitch_cache`, 0013_rerun_cache_usage.sql): single-flight claims of a cache
 * key, the node that waits for another's flight, and clearing entries. A flight ends with its
 * node's settle (a trigger).
 */
import type { AttemptRef, Queryable } from './queryable';

export interface CacheRow {
  claimed: boolean;
  status: 'running' | 'ready' | null;
  output: unknown;
  run_id: string | null;
  instance_id: string | null;
  usd: number | null;
  expired: boolean | null;
}

/**
 * Claim the flight of `key` for this attempt (a new key, an expired entry, or this attempt's own
 * flight again), or read the entry that exists: `claimed` says which.
 */
export async function claimFlight(db: Queryable, key: string, workerType: string, ref: AttemptRef, ttlSeconds: number | undefined): Promise<CacheRow> {
  const { rows } = await db.query<CacheRow>(
    `WITH claim AS (
       INSERT INTO stitch_cache AS c (key, worker_type, status, run_id, instance_id, attempt, ttl_seconds)
       VALUES ($1, $2, 'running', $3, $4, $5, $6)
       ON CONFLICT (key) DO UPDATE
         SET status = 'running', output = NULL, usd = 0, run_id = excluded.run_id, instance_id = excluded.instance_id,
             attempt = excluded.attempt, ttl_seconds = excluded.ttl_seconds, created_at = now(), expires_at = NULL
         WHERE (c.status = 'ready' AND c.expires_at <= now())
            OR (c.status = 'running' AND c.run_id = excluded.run_id AND c.instance_id = excluded.instance_id)
       RETURNING key
     ), mark AS (
       UPDATE stitch_node_runs SET metadata = metadata || jsonb_build_object('cacheKey', $1::text)
       WHERE run_id = $3 AND instance_id = $4 AND EXISTS (SELECT 1 FROM claim)
     )
     SELECT EXISTS (SELECT 1 FROM claim) AS claimed, c.status, c.output, c.run_id, c.instance_id, c.usd,
            c.expires_at <= now() AS expired,
            -- A hit announces itself in this statement (one round trip fewer); the settle follows.
            CASE WHEN c.status = 'ready' AND (c.expires_at IS NULL OR c.expires_at > now()) AND NOT EXISTS (SELECT 1 FROM claim)
                 THEN stitch_emit($3, jsonb_build_array(jsonb_build_object('instanceId', $4::text, 'type', 'node:cached', 'payload',
                        jsonb_build_object('reusedFrom', jsonb_build_object('runId', c.run_id, 'instanceId', c.instance_id), 'savedUsd', c.usd))))
            END AS announced
     FROM (SELECT 1) one LEFT JOIN stitch_cache c ON c.key = $1`,
    [key, workerType, ref.runId, ref.instanceId, ref.attempt, ttlSeconds ?? null],
  );
  return rows[0];
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

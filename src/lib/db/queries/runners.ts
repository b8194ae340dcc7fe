/**
 * Queue runners' liveness (`stitch_runners`, written by the heartbeat thread): release the jobs of
 * runners that stopped beating, and of this process's own dead worker pools.
 */
import type { Queryable } from './queryable';

/**
 * Delete the rows of runners silent longer than `staleSeconds` (not `selfId`) and force-unlock
 * their jobs, and the jobs locked that long by pools no runner names. DELETE … RETURNING:
 * concurrent sweepers each unlock a dead runner's jobs at most once.
 */
export async function sweepDeadRunners(db: Queryable, selfId: string, staleSeconds: number): Promise<{ runners: number; orphanPools: number }> {
  const { rows } = await db.query<{ n: number; orphans: number }>(
    `WITH dead AS (
       DELETE FROM stitch_runners WHERE last_seen_at < now() - make_interval(secs => $1) AND id <> $2
       RETURNING id, pool_ids
     ), orphaned AS (
       SELECT DISTINCT j.locked_by AS pool_id FROM graphile_worker.jobs j
       WHERE j.locked_by IS NOT NULL AND j.locked_at < now() - make_interval(secs => $1)
         AND NOT EXISTS (SELECT 1 FROM stitch_runners r WHERE j.locked_by = ANY (r.pool_ids))
     ), released AS (
       SELECT array(SELECT unnest(pool_ids) FROM dead UNION SELECT pool_id FROM orphaned) AS ids
     ), unlocked AS (
       SELECT graphile_worker.force_unlock_workers(ids) FROM released WHERE cardinality(ids) > 0
     )
     SELECT (SELECT count(*) FROM dead)::int AS n, (SELECT count(*) FROM orphaned)::int AS orphans, (SELECT count(*) FROM unlocked)::int AS u`,
    [staleSeconds, selfId],
  );
  return { runners: rows[0].n, orphanPools: rows[0].orphans };
}

/** Unlock the jobs of these worker pools (they died: their work runs again). */
export async function forceUnlockPools(db: Queryable, poolIds: string[]): Promise<void> {
  await db.query('SELECT graphile_worker.force_unlock_workers($1::text[])', [poolIds]);
}

/** A stopping runner's own row: others need not wait for it to go stale. */
export async function deleteRunner(db: Queryable, runnerId: string): Promise<void> {
  await db.query('DELETE FROM stitch_runners WHERE id = $1', [runnerId]);
}

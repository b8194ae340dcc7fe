/**
 * Leases of eager dispatch (src/lib/engine/eager-dispatch.ts, 0014_eager_dispatch.sql): a claimed
 * execution given back as a queue job, and the sweep that turns leases nobody can run into jobs.
 */
import type { Queryable } from './queryable';

export async function handBackLease(db: Queryable, runId: string, instanceId: string, runnerId: string): Promise<void> {
  await db.query('SELECT stitch_hand_back_lease($1, $2, $3)', [runId, instanceId, runnerId]);
}

/**
 * Leases of runners without a heartbeat row, and `ownRunnerId`'s own older than `minAgeSeconds` that
 * it does not hold (`held`: `runId/instanceId`), become queue jobs. Returns how many.
 */
export async function requeueOrphanLeases(db: Queryable, ownRunnerId: string, held: string[], minAgeSeconds: number): Promise<number> {
  const { rows } = await db.query<{ n: number }>('SELECT stitch_requeue_leases($1, $2, $3) AS n', [ownRunnerId, held, minAgeSeconds]);
  return rows[0].n;
}

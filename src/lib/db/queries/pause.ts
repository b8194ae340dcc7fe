/**
 * Pause and resume (migration 0023): the run tree's `paused_at`, and node attempts parked while it is set.
 */
import type { AttemptRef, Queryable } from './queryable';

/** Pause the run and its running child runs; its status as a client sees it, undefined without such a run. */
export async function pauseRun(db: Queryable, runId: string): Promise<string | undefined> {
  const { rows } = await db.query<{ status: string | null }>('SELECT stitch_pause_run($1) AS status', [runId]);
  return rows[0].status ?? undefined;
}

/** Resume the run and its child runs, enqueueing every parked attempt; its status as a client sees it. */
export async function resumeRun(db: Queryable, runId: string): Promise<string | undefined> {
  const { rows } = await db.query<{ status: string | null }>('SELECT stitch_resume_run($1) AS status', [runId]);
  return rows[0].status ?? undefined;
}

/** Park an attempt of a paused run (true), or false when the run is no longer paused (run it). */
export async function parkNode(db: Queryable, ref: AttemptRef): Promise<boolean> {
  const { rows } = await db.query<{ parked: boolean }>('SELECT stitch_park_node($1, $2, $3, $4) AS parked', [ref.runId, ref.versionId, ref.instanceId, ref.attempt]);
  return rows[0].parked;
}

/**
 * Calls of the node and run transition functions (0001_init.sql, 0006_attempt_rule.sql,
 * 0017_deadline_job.sql): each compare-and-sets its rows and, in the same commit, enqueues jobs
 * and appends events. False: the compare-and-set failed (the attempt moved on, the run ended).
 * Settling goes through engine/settle-batch.ts (batched).
 */
import type { AttemptRef, Queryable } from './queryable';

/** pending → running; `deadlineSeconds` (async workers) schedules the callback-deadline job. */
export async function markRunning(db: Queryable, ref: AttemptRef, inputJson: string, deadlineSeconds: number | null): Promise<boolean> {
  const { rows } = await db.query<{ ok: boolean }>('SELECT stitch_mark_running($1, $2, $3, $4, $5::jsonb, $6) AS ok', [
    ref.runId,
    ref.versionId,
    ref.instanceId,
    ref.attempt,
    inputJson,
    deadlineSeconds,
  ]);
  return rows[0].ok;
}

/** failed attempt → pending as the next attempt, its job due after `delayMs`. */
export async function scheduleRetry(db: Queryable, ref: AttemptRef, error: string, delayMs: number): Promise<boolean> {
  const { rows } = await db.query<{ ok: boolean }>('SELECT stitch_schedule_retry($1, $2, $3, $4, $5, $6) AS ok', [
    ref.runId,
    ref.versionId,
    ref.instanceId,
    ref.attempt,
    error,
    delayMs,
  ]);
  return rows[0].ok;
}

export interface AbortRequest {
  runId: string;
  status: 'failed' | 'cancelled';
  error: string;
  failing?: { instanceId: string; attempt: number; error: string };
  /** The graph's top-level node ids: item instances exist only once their item was reached. */
  topLevelNodes: string[];
}

/** running → failed or cancelled: open work cancelled, unreached nodes skipped. */
export async function abortRun(db: Queryable, a: AbortRequest): Promise<boolean> {
  const { rows } = await db.query<{ ok: boolean }>('SELECT stitch_abort_run($1, $2, $3, $4, $5, $6, $7) AS ok', [
    a.runId,
    a.status,
    a.error,
    a.failing?.instanceId ?? null,
    a.failing?.attempt ?? null,
    a.topLevelNodes,
    a.failing?.error ?? null,
  ]);
  return rows[0].ok;
}

/** pending → waiting_for_user (UX gate), with its deadline job and event; completes `jobIds` in the same statement. */
export async function waitForUser(
  db: Queryable,
  ref: AttemptRef,
  w: { inputJson: string; metadata: Record<string, unknown>; deadlineSeconds: number | null; jobIds: string[] },
): Promise<boolean> {
  const { rows } = await db.query<{ ok: boolean }>(
    `SELECT stitch_wait_for_user($1, $2, $3, $4, $5::jsonb, $6::jsonb, $7) AS ok,
            (SELECT count(*) FROM graphile_worker.complete_jobs($8::bigint[])) AS jobs_completed`,
    [ref.runId, ref.versionId, ref.instanceId, ref.attempt, w.inputJson, JSON.stringify(w.metadata), w.deadlineSeconds, w.jobIds],
  );
  return rows[0].ok;
}

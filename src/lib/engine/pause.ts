/**
 * Pause and resume a run (`POST /api/runs/:id/pause|resume`). Pausing sets `paused_at` on the run
 * and its running child runs; nodes already running finish, and their successors' execute jobs
 * park their attempts (`stitch_parked_nodes`) instead of starting them. Resuming clears it and
 * enqueues every parked attempt in the same commit: the run continues exactly where it stood.
 *
 * Where "paused?" is asked: the execute job's one read (`stitch_execution_state` answers
 * 'paused'), and, for a successor this process claimed without a read (eager dispatch) and once
 * more just before a worker starts, this process's own set of paused runs — kept by the pause
 * and resume control messages (`NOTIFY stitch_control`, sent in their commits) and filled at once
 * by a pause answered here. A run in the set is only a hint: parking asks the database, under the
 * run's lock, so a run resumed meanwhile runs on. Flows never paused pay one Set lookup.
 */
import { getPool } from '@/lib/db/pool';
import { parkNode } from '@/lib/db/queries/pause';
import { pauseRun as pauseRunQuery, resumeRun as resumeRunQuery } from '@/lib/db/queries/pause';
import { retryTransient } from '@/lib/db/transient';
import { isUuid } from '@/lib/db/runs';
import { NotFoundError } from '@/lib/errors';
import { onControl } from '@/lib/live/control';
import type { NodeRef } from './transitions';

const pausedHere = new Set<string>();
const idsOf = (value: unknown): string[] => (Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : []);

onControl('pause', (m) => {
  for (const id of idsOf(m.r)) pausedHere.add(id);
});
onControl('resume', (m) => {
  for (const id of idsOf(m.r)) pausedHere.delete(id);
});

/** True if this process heard that the run was paused (a hint: `parkIfPaused` asks the database). */
export const mayBePaused = (runId: string): boolean => pausedHere.size > 0 && pausedHere.has(runId);

/** Park the attempt if its run is paused; true when parked (the caller starts nothing). */
export async function park(ref: NodeRef): Promise<boolean> {
  return retryTransient('parkNode', () => parkNode(getPool(), ref));
}

/** Pause a run (and its running child runs); its status as the API shows it. */
export async function pauseRun(runId: string): Promise<string> {
  if (!isUuid(runId)) throw new NotFoundError(`Run ${runId}`);
  const status = await retryTransient('pauseRun', () => pauseRunQuery(getPool(), runId));
  if (status === undefined) throw new NotFoundError(`Run ${runId}`);
  // Before the answer: from now on this process starts no node of the run, whatever the NOTIFY's pace.
  if (status === 'paused') pausedHere.add(runId);
  return status;
}

/** Resume a paused run: its parked attempts are enqueued again; its status as the API shows it. */
export async function resumeRun(runId: string): Promise<string> {
  if (!isUuid(runId)) throw new NotFoundError(`Run ${runId}`);
  const status = await retryTransient('resumeRun', () => resumeRunQuery(getPool(), runId));
  if (status === undefined) throw new NotFoundError(`Run ${runId}`);
  return status;
}

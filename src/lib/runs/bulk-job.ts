/**
 * The `stitch_bulk` queue job: one batch of a bulk job (bulk.ts). It acts on the next items through
 * the engine's own paths, then records the batch and queues the next one (or completes the job) in
 * one commit. A batch that runs twice (its process died after acting, before recording) acts again
 * harmlessly: a cancelled run refuses a second cancel, a retried node is no longer failed, a re-run
 * carries the idempotency key `bulk:<job>`/`<run>` and returns the run it started the first time;
 * and an item is counted only when it leaves `pending`.
 */
import { getPool } from '@/lib/db/pool';
import { getBulkJob, nextBulkItems, recordBulkBatch, retryableInstances, type BulkAction, type BulkItemState } from '@/lib/db/queries/bulk-jobs';
import { isInfrastructureError } from '@/lib/db/transient';
import { StitchError } from '@/lib/errors';
import { cancelRun, retryNode } from '@/lib/engine/start-run';
import { getLogger } from '@/lib/log';
import { rerun } from '@/lib/rerun/start-rerun';
import { ACTION_STATUSES } from './bulk';

/** Runs acted on per queue job: small enough that a batch is seconds, not minutes, of engine work. */
export const BULK_BATCH = 25;

type Outcome = { state: Exclude<BulkItemState, 'pending'>; result: unknown };

/** Apply one action to one run. */
async function act(jobId: string, action: BulkAction, runId: string): Promise<Outcome> {
  switch (action) {
    case 'cancel':
      await cancelRun(runId);
      return { state: 'done', result: null };
    case 'retry': {
      const retried: string[] = [];
      for (const instanceId of await retryableInstances(getPool(), runId)) {
        try {
          await retryNode(runId, instanceId);
          retried.push(instanceId);
        } catch (error) {
          // Once one node is retried the run is running: a sibling another writer retried meanwhile is a conflict, not a failure.
          if (!(error instanceof StitchError && error.code === 'conflict' && retried.length)) throw error;
        }
      }
      return retried.length ? { state: 'done', result: { retried } } : { state: 'skipped', result: { reason: 'no failed node to retry' } };
    }
    case 'rerun': {
      const started = await rerun(runId, {
        trigger: { type: 'rerun', of: runId, bulkJobId: jobId },
        idempotency: { scope: `bulk:${jobId}`, key: runId, requestHash: 'bulk-rerun' },
      });
      return { state: 'done', result: { runId: started.runId } };
    }
  }
}

/** Act on one item, turning the engine's refusals into the item's outcome. */
async function actOn(jobId: string, action: BulkAction, item: { runId: string; status: string | null }): Promise<Outcome> {
  if (item.status === null) return { state: 'skipped', result: { reason: 'the run no longer exists' } };
  if (!(ACTION_STATUSES[action] as string[]).includes(item.status)) return { state: 'skipped', result: { reason: `the run is ${item.status} now` } };
  try {
    return await act(jobId, action, item.runId);
  } catch (error) {
    // The database went away: the queue runs this batch again (every action is safe to repeat).
    if (isInfrastructureError(error)) throw error;
    if (error instanceof StitchError) {
      // conflict: the run moved on since the snapshot (finished, retried by someone else).
      return { state: error.code === 'conflict' ? 'skipped' : 'failed', result: { reason: error.message } };
    }
    getLogger().error({ jobId, runId: item.runId, error: String(error) }, 'bulk action failed');
    return { state: 'failed', result: { reason: 'internal error' } };
  }
}

export async function bulkBatchJob(payload: { b: string }): Promise<void> {
  const job = await getBulkJob(getPool(), payload.b);
  if (!job || job.state !== 'running') return;
  const items = await nextBulkItems(getPool(), job.id, BULK_BATCH);
  const outcomes: Array<Outcome & { runId: string }> = [];
  for (const item of items) outcomes.push({ runId: item.runId, ...(await actOn(job.id, job.action, item)) });
  await recordBulkBatch(getPool(), job.id, outcomes);
}

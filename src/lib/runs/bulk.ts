/**
 * Bulk actions on runs: cancel, retry or re-run every run a search filter matches.
 *
 * - A dry run counts the runs the action would touch: the filter's runs whose status the action
 *   applies to (cancel: pending or running; retry: failed; rerun: completed, failed, cancelled).
 * - A real request takes the snapshot of those runs in one statement (at most `STITCH_MAX_BULK_RUNS`;
 *   a filter matching more is refused, so nobody acts on "the first ten thousand" by accident) and
 *   commits it with the first `stitch_bulk` queue job. The job works through the snapshot in
 *   batches (bulk-job.ts), each action through the engine's own path — `cancelRun`, `retryNode`,
 *   `rerun` — never one giant transaction.
 * - Posted twice: an identical request (same action, same filter as written) within a day returns
 *   the job the first one created, and each run is acted on at most once per job.
 */
import { createHash } from 'node:crypto';
import type { RunStatus } from '@/types/stitch';
import { ConflictError, NotFoundError, ValidationError } from '@/lib/errors';
import { getPool, withTransaction } from '@/lib/db/pool';
import { countRuns } from '@/lib/db/queries/list-runs';
import {
  findBulkJobByRequest,
  getBulkJob,
  insertBulkJob,
  lockBulkRequest,
  makeRoomForBulkJob,
  type BulkAction,
  type BulkJobRow,
} from '@/lib/db/queries/bulk-jobs';
import { isUuid } from '@/lib/db/rows';
import { canonicalJson } from '@/lib/rerun/fingerprint';
import { runtimeConfig } from '@/lib/runtime';
import { normalizeRunFilter, type RunFilter, type RunFilterSpec } from './filter';

export type { BulkAction, BulkJobRow } from '@/lib/db/queries/bulk-jobs';

/** The statuses each action applies to; other runs the filter matches are left out of the count. */
export const ACTION_STATUSES: Record<BulkAction, RunStatus[]> = {
  cancel: ['pending', 'running'],
  retry: ['failed'],
  rerun: ['completed', 'failed', 'cancelled'],
};

/** An identical request within this many hours returns the same job. */
export const BULK_DEDUPE_HOURS = 24;

export interface BulkRequest {
  action: BulkAction;
  filter?: RunFilterSpec;
  dryRun?: boolean;
}

export interface BulkDryRun {
  dryRun: true;
  action: BulkAction;
  /** Runs the action would touch (counted up to max + 1). */
  count: number;
  max: number;
  /** More runs match than one request may act on: narrow the filter. */
  exceedsMax: boolean;
}

/** The filter narrowed to the runs the action applies to. */
export function actionFilter(action: BulkAction, filter: RunFilter): RunFilter {
  const applicable = ACTION_STATUSES[action];
  return { ...filter, status: filter.status ? filter.status.filter((s) => applicable.includes(s)) : applicable };
}

const requestHash = (request: BulkRequest) => createHash('sha256').update(canonicalJson({ action: request.action, filter: request.filter ?? {} })).digest('hex');

export async function bulkDryRun(request: BulkRequest): Promise<BulkDryRun> {
  const filter = actionFilter(request.action, normalizeRunFilter(request.filter ?? {}));
  const max = runtimeConfig().limits.bulkRuns;
  const count = await countRuns(getPool(), filter, max + 1);
  return { dryRun: true, action: request.action, count, max, exceedsMax: count > max };
}

/** Create the bulk job (or return the one an identical request created): `duplicate` says which. */
export async function startBulk(request: BulkRequest): Promise<{ job: BulkJobRow; duplicate: boolean }> {
  const filter = actionFilter(request.action, normalizeRunFilter(request.filter ?? {}));
  const { bulkRuns: maxRuns, bulkJobs: maxJobs } = runtimeConfig().limits;
  const hash = requestHash(request);
  return withTransaction(async (client) => {
    await lockBulkRequest(client, hash);
    const earlier = await findBulkJobByRequest(client, hash, BULK_DEDUPE_HOURS);
    if (earlier) return { job: earlier, duplicate: true };
    const count = await countRuns(client, filter, maxRuns + 1);
    if (count > maxRuns) {
      throw new ValidationError(`The filter matches more than ${maxRuns} runs this action applies to; narrow it (a time range, a flow) and send several requests.`, [
        { code: 'too_many_runs', field: 'filter', message: `more than ${maxRuns} runs (STITCH_MAX_BULK_RUNS)` },
      ]);
    }
    const { running } = await makeRoomForBulkJob(client, maxJobs);
    if (running >= maxJobs) throw new ConflictError(`${running} bulk jobs are still running (STITCH_MAX_BULK_JOBS is ${maxJobs}); wait for one to finish.`);
    // A filter whose statuses the action does not apply to (status = ANY('{}')) selects nothing: an empty, completed job.
    const job = await insertBulkJob(client, { action: request.action, filterJson: JSON.stringify(request.filter ?? {}), requestHash: hash, filter, max: maxRuns });
    return { job, duplicate: false };
  });
}

export async function readBulkJob(id: string): Promise<BulkJobRow> {
  const job = isUuid(id) ? await getBulkJob(getPool(), id) : undefined;
  if (!job) throw new NotFoundError(`Bulk job ${id}`);
  return job;
}

/**
 * Retention: finished runs are kept for as many days as their policy says, then deleted with
 * everything that is theirs (queries/retention.ts).
 *
 * - The policy is `STITCH_RETENTION` (`completed=30,failed=90,cancelled=30`; a status left out is
 *   kept for ever; unset: every run is kept), and a flow may have its own
 *   (`PUT /api/flows/{id}/retention`), status by status.
 * - Only root runs are chosen; their sub-flow runs go with them (a child's rows are part of its
 *   parent's story). Runs still pending or running are never touched.
 * - The `stitch_prune` queue job deletes `STITCH_RETENTION_BATCH` root runs per transaction, one
 *   batch per job, and queues the next batch at once while any is due, so locks are held for one
 *   small batch and the engine's own jobs interleave; with nothing due it comes back after
 *   `STITCH_RETENTION_INTERVAL_SECONDS`. `stitch prune` runs the same batches from a terminal.
 * - Media files (a string in a pruned run's output that is a URL of this Stitch's storage) are
 *   deleted once no kept run and no step-cache entry refers to them: their keys are listed in the
 *   deleting commit and the files removed after it.
 */
import type pg from 'pg';
import type { Config } from '@/lib/config';
import { withTransaction } from '@/lib/db/pool';
import {
  anyFlowRetention,
  forgetTrashedMedia,
  pruneDryRun,
  pruneDue,
  queuePrune,
  trashedMedia,
  type PruneCounts,
} from '@/lib/db/queries/retention';
import { getLogger } from '@/lib/log';
import type { Storage } from '@/lib/storage/types';

export type { PruneCounts } from '@/lib/db/queries/retention';

interface RetentionParts {
  config: Pick<Config, 'retention'>;
  pool: pg.Pool;
  storage: Storage;
}

/** What every stored file's URL begins with; the key follows it. */
const mediaPrefix = (storage: Storage) => storage.url('k').slice(0, -1);

const hasDefault = (config: Pick<Config, 'retention'>) => Object.keys(config.retention.policy).length > 0;

/** Remove the files earlier batches listed (a crash after their commit left them listed). */
async function emptyTrash(parts: RetentionParts): Promise<number> {
  let removed = 0;
  for (;;) {
    const keys = await trashedMedia(parts.pool, 200);
    if (!keys.length) return removed;
    for (const key of keys) await parts.storage.remove(key);
    await forgetTrashedMedia(parts.pool, keys);
    removed += keys.length;
  }
}

/** Delete one batch of due runs (one transaction) and then their media. */
export async function pruneBatch(parts: RetentionParts): Promise<PruneCounts> {
  const { counts } = await withTransaction((client) =>
    pruneDue(client, { policy: parts.config.retention.policy, limit: parts.config.retention.batch, mediaPrefix: mediaPrefix(parts.storage) }),
  );
  await emptyTrash(parts);
  return counts;
}

/** What would go now (nothing changes). */
export function pruneReport(parts: RetentionParts): Promise<PruneCounts> {
  return pruneDryRun(parts.pool, { policy: parts.config.retention.policy, mediaPrefix: mediaPrefix(parts.storage) });
}

/** Add one batch's counts to a running total. */
export function addCounts(total: PruneCounts, batch: PruneCounts): PruneCounts {
  const byStatus = { ...total.byStatus };
  for (const [status, n] of Object.entries(batch.byStatus)) byStatus[status] = (byStatus[status] ?? 0) + n;
  return {
    runs: total.runs + batch.runs,
    childRuns: total.childRuns + batch.childRuns,
    nodeRows: total.nodeRows + batch.nodeRows,
    events: total.events + batch.events,
    cacheEntries: total.cacheEntries + batch.cacheEntries,
    mediaFiles: total.mediaFiles + batch.mediaFiles,
    byStatus,
  };
}

export const NO_COUNTS: PruneCounts = Object.freeze({ runs: 0, childRuns: 0, nodeRows: 0, events: 0, cacheEntries: 0, mediaFiles: 0, byStatus: {} });

/** Prune batch after batch until nothing is due (`stitch prune`). */
export async function pruneAll(parts: RetentionParts): Promise<PruneCounts> {
  let total = NO_COUNTS;
  for (;;) {
    const batch = await pruneBatch(parts);
    total = addCounts(total, batch);
    if (batch.runs < parts.config.retention.batch) return total;
  }
}

/**
 * The `stitch_prune` job: one batch, then the next pass — at once while a full batch went (more
 * may be due), else after the interval; none when no policy is left anywhere.
 */
export async function pruneJob(parts: RetentionParts): Promise<void> {
  const counts = await pruneBatch(parts);
  if (counts.runs > 0) getLogger().info({ ...counts }, 'retention: pruned runs');
  const more = counts.runs >= parts.config.retention.batch;
  if (more) return queuePrune(parts.pool, { mode: 'replace' });
  if (hasDefault(parts.config) || (await anyFlowRetention(parts.pool))) {
    await queuePrune(parts.pool, { mode: 'replace', delaySeconds: parts.config.retention.intervalSeconds });
  }
}

/** At a queue runner's start: place the pruning job when a default policy is set (a waiting one stays where it is). */
export async function schedulePruning(parts: Pick<RetentionParts, 'config' | 'pool'>): Promise<void> {
  if (hasDefault(parts.config)) await queuePrune(parts.pool, { mode: 'preserve_run_at' });
}

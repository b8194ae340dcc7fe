/**
 * Experiments: a flow's variants run over a dataset's rows (docs/experiments.md). Created here
 * (checked, bounded, variants resolved to versions, one pending cell per row and variant, and the
 * job that drives it in one statement); driven by tick.ts; read as a comparison: rows × variants
 * with each cell's output, status, cost, time and score, and a summary per variant.
 */
import { getPool, withTransaction } from '@/lib/db/pool';
import {
  comparisonPage,
  countExperiments,
  deleteExperiment as deleteExperimentRow,
  findExperiment,
  insertExperiment,
  listExperiments as listExperimentRows,
  variantSummaries,
  type ExperimentRow,
  type Scoring,
} from '@/lib/db/queries/experiments';
import { isUuid } from '@/lib/db/runs';
import { getDataset } from '@/lib/datasets/store';
import { lockCollection } from '@/lib/db/queries/advisory-locks';
import { datasetVersionRowCount } from '@/lib/db/queries/datasets';
import { findCurrentVersion } from '@/lib/db/queries/start-run';
import { checkBudgetUsd } from '@/lib/budget/budget-usd';
import { ConflictError, LimitReachedError, NotFoundError, ValidationError } from '@/lib/errors';
import { runtimeConfig } from '@/lib/runtime';
import { roundUsd } from '@/lib/usage/run-cost';
import { MAX_ASSERTIONS, parseAssertions } from './scoring';
import { stopExperiment } from './tick';
import { resolveVariants, type VariantRequest } from './variants';

export interface ExperimentRequest {
  flowId: string;
  /** Id or name. */
  datasetId: string;
  /** Default: the dataset's current version. */
  datasetVersion?: number;
  variants: VariantRequest[];
  /** Runs in flight at once (default 10). */
  concurrency?: number;
  budgetUsd?: number | null;
  scoring?: { assertions?: string[]; judge?: { flowId: string } };
}

const DEFAULT_CONCURRENCY = 10;

export async function createExperiment(request: ExperimentRequest): Promise<ExperimentView> {
  const limits = runtimeConfig().limits;
  if (request.variants.length < 1 || request.variants.length > limits.experimentVariants) {
    throw new ValidationError(`An experiment has 1 to ${limits.experimentVariants} variants (STITCH_MAX_EXPERIMENT_VARIANTS); this one has ${request.variants.length}.`, [
      { code: 'too_big', field: 'variants', message: `1–${limits.experimentVariants} variants` },
    ]);
  }
  const budgetUsd = request.budgetUsd ?? null;
  checkBudgetUsd(budgetUsd);
  const assertions = request.scoring?.assertions ?? [];
  if (assertions.length > MAX_ASSERTIONS) throw new ValidationError(`At most ${MAX_ASSERTIONS} assertions`, [{ code: 'too_big', field: 'scoring.assertions', message: `at most ${MAX_ASSERTIONS}` }]);
  parseAssertions(assertions);
  if (!isUuid(request.flowId) || !(await findCurrentVersion(getPool(), request.flowId))) throw new NotFoundError(`Flow ${request.flowId}`);
  const judge = request.scoring?.judge;
  if (judge && (!isUuid(judge.flowId) || !(await findCurrentVersion(getPool(), judge.flowId)))) throw new NotFoundError(`Judge flow ${judge.flowId}`);
  const dataset = await getDataset(request.datasetId);
  const datasetVersion = request.datasetVersion ?? dataset.version;
  const rowCount = datasetVersion === dataset.version ? dataset.rowCount : await rowCountOf(dataset.id, datasetVersion);
  // Checked again under the lock below; here so that a full store saves no detached version first.
  if ((await countExperiments(getPool())) >= limits.experiments) throw new LimitReachedError('Too many experiments', limits.experiments, 'STITCH_MAX_EXPERIMENTS');
  const variants = await resolveVariants(request.flowId, request.variants);
  const scoring: Scoring = { ...(assertions.length ? { assertions } : {}), ...(judge ? { judge: { flowId: judge.flowId } } : {}) };
  const id = await withTransaction(async (client) => {
    await lockCollection(client, 'experiments'); // two creations at once cannot both take the last place
    if ((await countExperiments(client)) >= limits.experiments) throw new LimitReachedError('Too many experiments', limits.experiments, 'STITCH_MAX_EXPERIMENTS');
    return insertExperiment(client, {
      flowId: request.flowId,
      datasetId: dataset.id,
      datasetVersion,
      variants,
      scoring,
      concurrency: request.concurrency ?? DEFAULT_CONCURRENCY,
      budgetUsd,
      rowCount,
    });
  });
  return getExperiment(id, { limit: 0 });
}

async function rowCountOf(datasetId: string, version: number): Promise<number> {
  const count = await datasetVersionRowCount(getPool(), datasetId, version);
  if (count === undefined) throw new NotFoundError(`Version ${version} of dataset ${datasetId}`);
  return count;
}

async function experimentOf(id: string): Promise<ExperimentRow> {
  const e = isUuid(id) ? await findExperiment(getPool(), id) : undefined;
  if (!e) throw new NotFoundError(`Experiment ${id}`);
  return e;
}

export type ExperimentView = Awaited<ReturnType<typeof getExperiment>>;

/**
 * The comparison: the experiment, its progress and cost, a summary per variant, and one page of
 * rows (`limit` rows after row `cursor`), each with every variant's cell.
 */
export async function getExperiment(id: string, page: { limit: number; cursor?: string }) {
  const e = await experimentOf(id);
  const after = page.cursor === undefined ? -1 : Number(page.cursor);
  if (!Number.isInteger(after) || after < -1) {
    throw new ValidationError('The cursor is not valid: pass the nextCursor of a previous page.', [{ code: 'invalid_cursor', field: 'cursor', message: 'not a cursor returned by this API' }]);
  }
  const summaries = await variantSummaries(getPool(), e.id);
  const { rows, cells } = page.limit > 0 ? await comparisonPage(getPool(), e, after, page.limit) : { rows: [], cells: [] };
  const total = summaries.reduce((n, s) => n + s.cells, 0);
  const done = summaries.reduce((n, s) => n + s.completed + s.failed, 0);
  const usd = roundUsd(summaries.reduce((n, s) => n + s.costUsd, 0));
  const savedUsd = roundUsd(summaries.reduce((n, s) => n + s.savedUsd, 0));
  const last = rows[rows.length - 1];
  return {
    id: e.id,
    flowId: e.flowId,
    dataset: { id: e.datasetId, version: e.datasetVersion },
    status: e.status,
    error: e.error,
    variants: e.variants.map((v) => ({ label: v.label, versionId: v.versionId, version: v.version, ...(v.nodeOverrides ? { nodeOverrides: v.nodeOverrides } : {}) })),
    scoring: e.scoring,
    concurrency: e.concurrency,
    budgetUsd: e.budgetUsd,
    createdAt: e.createdAt,
    finishedAt: e.finishedAt,
    progress: { cells: total, done, running: summaries.reduce((n, s) => n + s.running, 0) },
    cost: { usd, savedUsd },
    summary: summaries.map((s) => ({ label: e.variants[s.variant].label, ...s, costUsd: roundUsd(s.costUsd), savedUsd: roundUsd(s.savedUsd) })),
    rows: rows.map((r) => ({
      ...r,
      variants: cells.filter((c) => c.row === r.idx).map((c) => ({ label: e.variants[c.variant].label, ...c })),
    })),
    nextCursor: last && last.idx < (total / Math.max(1, e.variants.length)) - 1 ? String(last.idx) : null,
  };
}

export async function listExperiments(page: { flowId?: string; limit: number; cursor?: string }) {
  return listExperimentRows(getPool(), page);
}

/** Stop a running experiment: its open runs are cancelled, cells never started end as cancelled. */
export async function cancelExperiment(id: string): Promise<void> {
  const e = await experimentOf(id);
  if (!(await stopExperiment(e.id, 'cancelled', 'Cancelled by request'))) throw new ConflictError(`Experiment ${id} is already ${(await experimentOf(id)).status}`);
}

/** Remove an experiment that has ended (its runs stay, as runs). */
export async function deleteExperiment(id: string): Promise<void> {
  const e = await experimentOf(id);
  if (e.status === 'running') throw new ConflictError(`Experiment ${id} is running: cancel it first`);
  await deleteExperimentRow(getPool(), e.id);
}

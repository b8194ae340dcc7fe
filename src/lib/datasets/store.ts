/**
 * Datasets: checked and bounded here, stored by src/lib/db/queries/datasets.ts. A dataset is made
 * from a file's text (parse.ts), from rows, or from the inputs of past runs (the canvas's "dataset
 * from selected runs"); a change of its rows is a new version, and older versions go beyond the
 * last STITCH_MAX_DATASET_VERSIONS unless an experiment names them.
 */
import { getPool, withTransaction } from '@/lib/db/pool';
import { lockCollection } from '@/lib/db/queries/advisory-locks';
import {
  countDatasets,
  datasetVersionExists,
  deleteDataset as deleteDatasetRow,
  findDataset,
  insertDataset,
  insertDatasetVersion,
  listDatasetRows,
  listDatasets as listDatasetRowsPage,
  runInputs,
  type DatasetSummary,
} from '@/lib/db/queries/datasets';
import { isUuid } from '@/lib/db/runs';
import { ConflictError, LimitReachedError, NotFoundError, ValidationError } from '@/lib/errors';
import { runtimeConfig } from '@/lib/runtime';
import { checkRows, parseDataset, type DatasetFormat, type DatasetRow } from './parse';

export type { DatasetSummary, DatasetRow, DatasetFormat };

/** What a dataset's rows are made from: exactly one of these. */
export interface DatasetContent {
  format?: DatasetFormat;
  content?: string;
  rows?: unknown[];
  fromRuns?: string[];
}

async function rowsOf(body: DatasetContent): Promise<{ rows: DatasetRow[]; source: Record<string, unknown> }> {
  const given = [body.content !== undefined, body.rows !== undefined, body.fromRuns !== undefined].filter(Boolean).length;
  if (given !== 1) {
    throw new ValidationError('Give the rows one way: content (with format json, jsonl or csv), rows, or fromRuns', [
      { code: 'invalid_body', field: 'content', message: 'exactly one of content, rows and fromRuns' },
    ]);
  }
  let rows: DatasetRow[];
  let source: Record<string, unknown>;
  if (body.content !== undefined) {
    const format = body.format ?? 'json';
    rows = parseDataset(format, body.content);
    source = { format };
  } else if (body.rows !== undefined) {
    rows = checkRows(body.rows);
    source = { format: 'rows' };
  } else {
    const ids = body.fromRuns!;
    const bad = ids.find((id) => !isUuid(id));
    if (bad !== undefined) throw new ValidationError(`fromRuns: "${bad}" is not a run id`, [{ code: 'invalid_run_id', field: 'fromRuns', message: 'run ids are uuids' }]);
    const inputs = await runInputs(getPool(), ids);
    if (inputs.length !== ids.length) throw new NotFoundError(`${ids.length - inputs.length} of the runs in fromRuns`);
    rows = checkRows(inputs, 'fromRuns');
    source = { fromRuns: ids.length };
  }
  const max = runtimeConfig().limits.datasetRows;
  if (rows.length > max) {
    throw new ValidationError(`A dataset holds at most ${max} rows (STITCH_MAX_DATASET_ROWS); this one has ${rows.length}.`, [
      { code: 'too_big', field: 'rows', message: `at most ${max} rows` },
    ]);
  }
  if (rows.length === 0) throw new ValidationError('A dataset needs at least one row', [{ code: 'too_small', field: 'rows', message: 'no rows' }]);
  return { rows, source };
}

export async function createDataset(name: string, body: DatasetContent): Promise<DatasetSummary> {
  const { rows, source } = await rowsOf(body);
  const limit = runtimeConfig().limits.datasets;
  const id = await withTransaction(async (client) => {
    // Creations one at a time, so two at once cannot both take the last place.
    await lockCollection(client, 'datasets');
    if ((await countDatasets(client)) >= limit) throw new LimitReachedError('Too many datasets', limit, 'STITCH_MAX_DATASETS');
    try {
      return await insertDataset(client, name, rows, source);
    } catch (error) {
      if ((error as { code?: string }).code !== '23505') throw error;
      const existing = await findDataset(getPool(), name, false);
      throw new ConflictError(`A dataset named "${name}" exists: PUT /api/datasets/${existing?.id ?? '<id>'} makes a new version of it.`, { id: existing?.id });
    }
  });
  return getDataset(id);
}

/** A new version of the dataset's rows (and a new name, if given). */
export async function updateDataset(idOrName: string, body: DatasetContent & { name?: string }): Promise<DatasetSummary> {
  const current = await getDataset(idOrName);
  const { rows, source } = await rowsOf(body);
  try {
    await insertDatasetVersion(getPool(), current.id, rows, source, runtimeConfig().limits.datasetVersions, body.name);
  } catch (error) {
    if ((error as { code?: string }).code === '23505') throw new ConflictError(`A dataset named "${body.name}" exists already`);
    throw error;
  }
  return getDataset(current.id);
}

/** By id or by name. */
export async function getDataset(idOrName: string): Promise<DatasetSummary> {
  const found = (isUuid(idOrName) && (await findDataset(getPool(), idOrName, true))) || (await findDataset(getPool(), idOrName, false));
  if (!found) throw new NotFoundError(`Dataset ${idOrName}`);
  return found;
}

export async function listDatasets(filter: { name?: string; limit: number; cursor?: string }) {
  return listDatasetRowsPage(getPool(), filter);
}

/** One page of a version's rows (default: the current one); `cursor` is the last row index seen. */
export async function datasetRows(idOrName: string, page: { version?: number; limit: number; cursor?: string }) {
  const dataset = await getDataset(idOrName);
  const version = page.version ?? dataset.version;
  if (!(await datasetVersionExists(getPool(), dataset.id, version))) throw new NotFoundError(`Version ${version} of dataset ${dataset.name}`);
  const after = page.cursor === undefined ? -1 : Number(page.cursor);
  if (!Number.isInteger(after) || after < -1) {
    throw new ValidationError('The cursor is not valid: pass the nextCursor of a previous page.', [{ code: 'invalid_cursor', field: 'cursor', message: 'not a cursor returned by this API' }]);
  }
  const rows = await listDatasetRows(getPool(), dataset.id, version, { afterIdx: after, limit: page.limit + 1 });
  const items = rows.slice(0, page.limit);
  return { version, rows: items, nextCursor: rows.length > page.limit ? String(items[items.length - 1].idx) : null };
}

export async function deleteDataset(idOrName: string): Promise<void> {
  const dataset = await getDataset(idOrName);
  try {
    await deleteDatasetRow(getPool(), dataset.id);
  } catch (error) {
    // 23503: an experiment names one of its versions.
    if ((error as { code?: string }).code === '23503') throw new ConflictError(`Dataset ${dataset.name} is used by an experiment: delete the experiment first.`);
    throw error;
  }
}

/**
 * `stitch datasets add FILE [--name N]`: a dataset from a JSON, JSONL or CSV file (the format from
 * its extension); a name that exists gets a new version. `stitch datasets list`. In the database,
 * or on a server with `--url` (POST/PUT /api/datasets).
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import { formatOfFileName } from '@/lib/datasets/parse';
import { createDataset, listDatasets, updateDataset, type DatasetSummary } from '@/lib/datasets/store';
import { ConflictError } from '@/lib/errors';
import { ApiError } from '../api-client';
import { api, withDatabase } from './inspect';

/** Create, or on a taken name make a new version of that dataset. */
async function addDataset(name: string, body: { format: 'json' | 'jsonl' | 'csv'; content: string }, url?: string): Promise<DatasetSummary> {
  if (url) {
    try {
      return await api(url).request<DatasetSummary>('POST', '/api/datasets', { name, ...body });
    } catch (error) {
      if (!(error instanceof ApiError && error.status === 409 && error.code === 'conflict')) throw error;
      return api(url).request<DatasetSummary>('PUT', `/api/datasets/${encodeURIComponent(name)}`, body);
    }
  }
  return withDatabase(async () => {
    try {
      return await createDataset(name, body);
    } catch (error) {
      if (!(error instanceof ConflictError)) throw error;
      return updateDataset(name, body);
    }
  });
}

export function registerDatasetCommands(program: Command): void {
  const datasets = program.command('datasets').description('Datasets: named lists of run inputs that experiments run flows over');
  datasets
    .command('add <file>')
    .description('Add a dataset from a .json, .jsonl or .csv file (a name that exists gets a new version)')
    .option('--name <name>', 'the dataset\'s name (default: the file name without its extension)')
    .option('--url <url>', 'use a Stitch server instead of the database')
    .action(async (file: string, options: { name?: string; url?: string }) => {
      const content = await readFile(file, 'utf8');
      const name = options.name ?? path.basename(file).replace(/\.[^.]+$/, '');
      const dataset = await addDataset(name, { format: formatOfFileName(file), content }, options.url);
      console.log(`Dataset ${dataset.name} (${dataset.id}) version ${dataset.version}: ${dataset.rowCount} ${dataset.rowCount === 1 ? 'row' : 'rows'}.`);
    });
  datasets
    .command('list')
    .description('List datasets, newest first')
    .option('--url <url>', 'use a Stitch server instead of the database')
    .action(async (options: { url?: string }) => {
      const page = options.url
        ? await api(options.url).request<{ datasets: DatasetSummary[] }>('GET', '/api/datasets?limit=200')
        : await withDatabase(() => listDatasets({ limit: 200 }));
      for (const d of page.datasets) console.log(`${d.name}\tv${d.version}\t${d.rowCount} rows\t${d.id}`);
    });
}

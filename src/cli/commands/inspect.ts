/**
 * Read-only commands: `flows list`, `runs list` (commands/runs.ts) and `runs show RUN_ID`, from the
 * database (or `--url`).
 */
import type { Command } from 'commander';
import { getConfig } from '@/lib/config';
import { getPool } from '@/lib/db/pool';
import { listFlows, type FlowSummary } from '@/lib/db/queries/flows';
import { allPages } from '@/lib/db/queries/keyset-cursor';
import { getRunWithNodes } from '@/lib/db/runs';
import { startStitch } from '@/lib/stitch';
import { ApiClient } from '../api-client';

/** Run `fn` against a database-only Stitch (no queue runner), then stop it. */
export async function withDatabase<T>(fn: () => Promise<T>): Promise<T> {
  const stitch = await startStitch({ runner: false });
  try {
    return await fn();
  } finally {
    await stitch.stop();
  }
}

export const api = (url: string) => new ApiClient(url, getConfig().apiKey);

export function registerInspectCommands(program: Command): void {
  const flows = program.command('flows').description('Inspect flows');
  flows
    .command('list')
    .description('List flows (id, version, name)')
    .option('--url <url>', 'read from a Stitch server instead of the database')
    .action(async (options: { url?: string }) => {
      const list = options.url
        ? await api(options.url).listAll<FlowSummary>('/api/flows', 'flows')
        : await withDatabase(() => allPages(async (page) => {
            const { flows: items, nextCursor } = await listFlows(getPool(), page);
            return { items, nextCursor };
          }));
      if (list.length === 0) console.log('No flows yet.');
      for (const f of list) console.log(`${f.id}  v${f.version ?? '-'}  ${f.name}`);
    });

  const runs = program.command('runs').description('Search and inspect runs');
  runs
    .command('show')
    .argument('<runId>')
    .description('Show a run and its node instances (JSON)')
    .option('--url <url>', 'read from a Stitch server instead of the database')
    .action(async (runId: string, options: { url?: string }) => {
      const run = options.url
        ? await api(options.url).request('GET', `/api/runs/${encodeURIComponent(runId)}`)
        : await withDatabase(() => getRunWithNodes(runId));
      console.log(JSON.stringify(run, null, 2));
    });
}

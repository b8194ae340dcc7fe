/**
 * `stitch export-data FILE [--runs]` and `stitch import-data FILE`: back up a project's database
 * (the embedded one included, which has no pg_dump) and move it to another, e.g. from the embedded
 * PostgreSQL to a server (src/lib/backup/archive.ts; docs/operations.md, "Backup and move").
 */
import type { Command } from 'commander';
import { getPool } from '@/lib/db/pool';
import { exportData, importData, type TableCounts } from '@/lib/backup/archive';
import { withDatabase } from './inspect';

const describe = (counts: TableCounts) =>
  Object.entries(counts)
    .map(([table, n]) => `${n} ${table.replace(/^stitch_/, '').replace(/_/g, ' ')}`)
    .join(', ');

export function registerDataCommands(program: Command): void {
  program
    .command('export-data')
    .argument('<file>', 'the archive to write (gzipped JSON Lines; written 0600: it holds the generated secrets)')
    .description('Write flows, versions, schedules, triggers, settings and sealed credentials (and, with --runs, finished runs) to an archive')
    .option('--runs', 'include finished runs with their nodes, events and usage')
    .action(async (file: string, options: { runs?: boolean }) => {
      const summary = await withDatabase(() => exportData(getPool(), file, { runs: options.runs }));
      console.log(`Exported ${describe(summary.counts)} to ${file}.`);
      if (summary.runsLeftOut > 0) console.log(`${summary.runsLeftOut} run(s) not finished (or in an unfinished run's family) were left out.`);
    });

  program
    .command('import-data')
    .argument('<file>', 'an archive written by `stitch export-data`')
    .description('Write an archive into an empty database (DATABASE_URL, or the embedded one); credentials need the same STITCH_ENCRYPTION_KEY')
    .action(async (file: string) => {
      const result = await withDatabase(() => importData(file));
      console.log(`Imported ${describe(result.counts)} from ${file} (exported ${result.header.exportedAt}); ${result.schedules} schedule(s) armed.`);
    });
}

/**
 * `stitch prune`: retention from a terminal (src/lib/runs/retention.ts) — the policy of
 * STITCH_RETENTION and each flow's own, applied now in the same small batches the `stitch_prune`
 * job uses; `--dry-run` says what would go and changes nothing.
 *
 *   STITCH_RETENTION=completed=30,failed=90 stitch prune --dry-run
 */
import type { Command } from 'commander';
import { startStitch } from '@/lib/stitch';
import { pruneAll, pruneReport, type PruneCounts } from '@/lib/runs/retention';

function describe(counts: PruneCounts, verb: string): string {
  const statuses = Object.entries(counts.byStatus).map(([s, n]) => `${n} ${s}`).join(', ');
  return [
    `${verb} ${counts.runs} run${counts.runs === 1 ? '' : 's'}${statuses ? ` (${statuses})` : ''} and ${counts.childRuns} sub-flow run${counts.childRuns === 1 ? '' : 's'}:`,
    `  ${counts.nodeRows} node rows, ${counts.events} events, ${counts.cacheEntries} spent cache entries, ${counts.mediaFiles} media files`,
  ].join('\n');
}

export function registerPruneCommand(program: Command): void {
  program
    .command('prune')
    .description('Delete finished runs older than the retention policy (STITCH_RETENTION, per-flow policies) with their rows and media')
    .option('--dry-run', 'only say what would be deleted')
    .option('--json', 'print the counts as JSON')
    .action(async (options: { dryRun?: boolean; json?: boolean }) => {
      const stitch = await startStitch({ runner: false });
      try {
        const policy = stitch.runtime.config.retention.policy;
        if (!options.json && !Object.keys(policy).length) console.error('STITCH_RETENTION is not set: only flows with their own policy are pruned.');
        const counts = options.dryRun ? await pruneReport(stitch.runtime) : await pruneAll(stitch.runtime);
        console.log(options.json ? JSON.stringify({ dryRun: Boolean(options.dryRun), ...counts }, null, 2) : describe(counts, options.dryRun ? 'Would delete' : 'Deleted'));
      } finally {
        await stitch.stop();
      }
    });
}

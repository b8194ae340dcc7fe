/**
 * `stitch cache clear [--worker-type T]`: drop step-cache entries (all, or one worker type's), in
 * the database or on a server (`--url`, DELETE /api/cache).
 */
import type { Command } from 'commander';
import { clearStepCache } from '@/lib/cache/step-cache';
import { api, withDatabase } from './inspect';

export function registerCacheCommands(program: Command): void {
  const cache = program.command('cache').description('The step cache (nodes with `cache` set reuse identical earlier results)');
  cache
    .command('clear')
    .description('Drop cached step results (all, or one worker type\'s)')
    .option('--worker-type <type>', 'only this worker type\'s entries')
    .option('--url <url>', 'use a Stitch server instead of the database')
    .action(async (options: { workerType?: string; url?: string }) => {
      const deleted = options.url
        ? (await api(options.url).request<{ deleted: number }>('DELETE', `/api/cache${options.workerType ? `?workerType=${encodeURIComponent(options.workerType)}` : ''}`)).deleted
        : await withDatabase(() => clearStepCache(options.workerType));
      console.log(`Cleared ${deleted} cache ${deleted === 1 ? 'entry' : 'entries'}${options.workerType ? ` of ${options.workerType}` : ''}.`);
    });
}

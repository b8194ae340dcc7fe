/**
 * The long-running commands: `start` (everything in one process), `serve` (HTTP only), `worker`
 * (queue runner only), and `migrate`. Scale-out is `serve` + N × `worker` on one DATABASE_URL.
 */
import type { Command } from 'commander';
import { startStitch, type StitchInstance } from '@/lib/stitch';
import { getConfig } from '@/lib/config';
import { bindAddress, startServer } from '@/server/listen';
import { seedExamples } from '../seed-examples';
import { stopOnSignals } from '../shutdown';

/** Seconds since this process started (performance.timeOrigin), for the ready line. */
const sinceStart = () => (performance.now() / 1000).toFixed(2);

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`expected a positive integer, got "${value}"`);
  return n;
}

/** A runner that can no longer run jobs has stopped beating: the process exits non-zero at once. */
function exitWhenRunnerFails(stitch: StitchInstance): void {
  void stitch.runner?.failed.then((error) => {
    console.error(`Stitch: the queue runner stopped: ${error.message}`);
    process.exit(1);
  });
}

export function registerProcessCommands(program: Command): void {
  program
    .command('start')
    .description('Start everything in one process: database (embedded unless DATABASE_URL), migrations, HTTP server and queue runner')
    .option('--concurrency <n>', 'jobs the queue runner executes at once', positiveInt)
    .action(async (options: { concurrency?: number }) => {
      bindAddress(getConfig()); // refuse an unsafe HOST before starting anything
      const stitch = await startStitch({ concurrency: options.concurrency, waitForDatabase: true });
      const server = await startServer(stitch.config).catch(async (error) => {
        await stitch.stop();
        throw error;
      });
      stopOnSignals([server.close, stitch.stop]);
      exitWhenRunnerFails(stitch);
      const seeded = await seedExamples();
      const db = stitch.db.embedded ? `embedded PostgreSQL in ${stitch.config.dataDir}` : 'DATABASE_URL';
      console.log(`Stitch is ready at ${server.url}  (ready in ${sinceStart()} s, ${db})`);
      console.log(`  canvas ${server.url}/   API docs ${server.url}/api/docs   health ${server.url}/api/health`);
      if (seeded.length) console.log(`  seeded example flows: ${seeded.join(', ')}`);
      console.log('  Press Ctrl+C to stop.');
    });

  program
    .command('serve')
    .description('Start the HTTP server only (no queue runner): run `stitch worker` processes against the same DATABASE_URL')
    .action(async () => {
      bindAddress(getConfig());
      const stitch = await startStitch({ runner: false, waitForDatabase: true });
      const server = await startServer(stitch.config).catch(async (error) => {
        await stitch.stop();
        throw error;
      });
      stopOnSignals([server.close, stitch.stop]);
      console.log(`Stitch API is ready at ${server.url}  (ready in ${sinceStart()} s, no queue runner in this process)`);
    });

  program
    .command('worker')
    .description('Start a queue runner only (no HTTP server)')
    .option('--concurrency <n>', 'jobs this runner executes at once (default STITCH_CONCURRENCY or 10)', positiveInt)
    .option('--remote <url>', 'serve this project\'s workers to the Stitch server at <url> over the pull protocol (no database here)')
    .option('--types <list>', 'with --remote: comma-separated worker types to serve (default: those the server does not run itself)')
    .action(async (options: { concurrency?: number; remote?: string; types?: string }) => {
      if (options.remote) {
        const { startRemoteRunner } = await import('../remote/remote-runner');
        const config = getConfig();
        const runner = await startRemoteRunner({
          url: options.remote,
          apiKey: config.apiKey,
          types: options.types?.split(',').map((t) => t.trim()).filter(Boolean),
          concurrency: options.concurrency ?? config.concurrency,
        });
        stopOnSignals([runner.stop]);
        console.log(`Stitch remote worker ${runner.workerId} serving ${runner.types.join(', ')} for ${options.remote}`);
        return;
      }
      const stitch = await startStitch({ runner: true, concurrency: options.concurrency, waitForDatabase: true });
      stopOnSignals([stitch.stop]);
      exitWhenRunnerFails(stitch);
      const concurrency = options.concurrency ?? stitch.config.concurrency;
      console.log(`Stitch worker ${stitch.runner?.id} is ready  (ready in ${sinceStart()} s, concurrency ${concurrency})`);
    });

  program
    .command('migrate')
    .description('Apply database migrations and exit')
    .action(async () => {
      const stitch = await startStitch({ runner: false });
      console.log('Migrations applied.');
      await stitch.stop();
    });
}

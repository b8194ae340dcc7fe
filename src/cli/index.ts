#!/usr/bin/env node
/**
 * The `stitch` command. Commands only parse arguments, call the engine façade or the server,
 * and print. `npm start` is `stitch start`; `npm run stitch -- <command>` runs any command.
 */
import { Command } from 'commander';
import { registerInspectCommands } from './commands/inspect';
import { registerProcessCommands } from './commands/processes';
import { registerRunCommand } from './commands/run';
import { registerDoctorCommand } from './commands/doctor';
import { registerMcpCommand } from './commands/mcp';
import { registerWorkerNewCommand } from './commands/worker-new';

const program = new Command('stitch').description('Durable workflow orchestration on PostgreSQL');
registerProcessCommands(program);
registerRunCommand(program);
registerInspectCommands(program);
registerWorkerNewCommand(program); // after registerProcessCommands: adds `new` under `worker`
registerDoctorCommand(program);
registerMcpCommand(program);

program.parseAsync(process.argv).catch((error: Error & { details?: unknown }) => {
  console.error(`stitch: ${error.message}`);
  // Validation errors carry the full list (every graph problem, not only the first).
  if (Array.isArray(error.details)) for (const d of error.details) console.error(`  - ${(d as { message?: string }).message ?? JSON.stringify(d)}`);
  process.exit(1);
});

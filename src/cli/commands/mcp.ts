/**
 * `stitch mcp`: Stitch's flows as MCP tools over stdio, for MCP clients that start a command
 * (Claude Desktop, Claude Code, editors). It opens the database like `stitch run` (embedded, or
 * DATABASE_URL) and runs a queue runner unless `--no-runner` (when a `stitch start`/`worker`
 * already runs one on the same database). Standard output is the protocol: logs go to stderr.
 */
import type { Command } from 'commander';
import pino from 'pino';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { getConfig } from '@/lib/config';
import { createLogger, setLogger } from '@/lib/log';
import { createStitchMcpServer } from '@/lib/mcp/server';
import { startStitch } from '@/lib/stitch';
import { stopEventHub } from '@/server/events/event-hub';
import { watchRunWithHub } from '@/server/routes/mcp';
import { stopOnSignals } from '../shutdown';

function positiveNumber(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`expected a positive number of seconds, got "${value}"`);
  return n;
}

export function registerMcpCommand(program: Command): void {
  program
    .command('mcp')
    .description('Serve every flow as an MCP tool over stdio (plus get_run and cancel_run)')
    .option('--no-runner', 'do not execute runs in this process (a `stitch start` or `stitch worker` on the same database does)')
    .option('--wait <seconds>', 'how long a tool call waits for its run before answering with the run id', positiveNumber, 60)
    .action(async (options: { runner: boolean; wait: number }) => {
      const config = getConfig();
      setLogger(createLogger(config.logLevel, pino.destination(2)));
      const stitch = await startStitch({ config, runner: options.runner });
      const server = await createStitchMcpServer({ watchRun: watchRunWithHub, waitSeconds: options.wait, baseUrl: config.baseUrl });
      let stopping: Promise<void> | undefined;
      const stop = () =>
        (stopping ??= (async () => {
          await server.close();
          await stopEventHub();
          await stitch.stop();
        })());
      stopOnSignals([stop]);
      await server.connect(new StdioServerTransport());
      // The client closing our stdin ends the session, and the process with it.
      process.stdin.once('end', () => void stop().then(() => process.exit(0)));
    });
}

#!/usr/bin/env node
/**
 * The `stitch` command. Commands only parse arguments, call the engine façade and print.
 */
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { startStitch } from '@/lib/stitch';
import { createFlow, findFlowByName, updateFlow } from '@/lib/db/flows';
import { startRun } from '@/lib/engine/start-run';
import { getRunWithNodes } from '@/lib/db/runs';

const program = new Command('stitch').description('Durable workflow orchestration on PostgreSQL');

async function waitForFinish(runId: string) {
  for (;;) {
    const run = await getRunWithNodes(runId);
    if (run.status === 'completed' || run.status === 'failed' || run.status === 'cancelled') return run;
    await new Promise((r) => setTimeout(r, 100));
  }
}

interface FlowFile {
  name?: string;
  graph?: unknown;
  input?: unknown;
  nodes?: unknown;
  edges?: unknown;
}

async function upsertFlowFromFile(file: string): Promise<{ flowId: string; input: unknown }> {
  const parsed = JSON.parse(readFileSync(file, 'utf8')) as FlowFile;
  const graph = parsed.graph ?? { nodes: parsed.nodes, edges: parsed.edges };
  const name = parsed.name ?? file;
  const existing = await findFlowByName(name);
  const flowId = existing ? (await updateFlow(existing.id, graph)).id : (await createFlow(name, graph)).id;
  return { flowId, input: parsed.input };
}

program
  .command('start')
  .description('Start Stitch (embedded database unless DATABASE_URL is set) and run the demo flow')
  .action(async () => {
    const stitch = await startStitch();
    console.log(`Stitch is running on ${stitch.db.embedded ? 'the embedded PostgreSQL' : 'DATABASE_URL'}.`);
    const { flowId, input } = await upsertFlowFromFile('examples/hello.json');
    const { runId } = await startRun(flowId, { input });
    const run = await waitForFinish(runId);
    console.log(`Demo run ${runId}: ${run.status}`, JSON.stringify(run.output));
    console.log('Queue runner active. Press Ctrl+C to stop.');
    const stop = async () => {
      await stitch.stop();
      process.exit(0);
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });

program
  .command('migrate')
  .description('Apply database migrations and exit')
  .action(async () => {
    const stitch = await startStitch({ runner: false });
    console.log('Migrations applied.');
    await stitch.stop();
  });

program
  .command('run')
  .argument('<flow.json>', 'a flow file: {name, graph, input} or a bare React Flow graph')
  .option('--input <json>', 'run input as JSON (overrides the file\'s "input")')
  .description('Create or update the flow from a file, run it to the end and print its output')
  .action(async (file: string, options: { input?: string }) => {
    const stitch = await startStitch();
    try {
      const { flowId, input } = await upsertFlowFromFile(file);
      const { runId } = await startRun(flowId, { input: options.input ? JSON.parse(options.input) : input });
      const run = await waitForFinish(runId);
      console.log(JSON.stringify({ runId, status: run.status, output: run.output, error: run.error }, null, 2));
      process.exitCode = run.status === 'completed' ? 0 : 1;
    } finally {
      await stitch.stop();
    }
  });

program.parseAsync(process.argv).catch((error) => {
  console.error(`stitch: ${(error as Error).message}`);
  process.exit(1);
});

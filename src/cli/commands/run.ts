/**
 * `stitch run FLOW.json`: create or update the flow from the file, start a run, show live
 * progress, print the output; exit 0 only if the run completed. In this process (embedded
 * database or DATABASE_URL, with a queue runner) by default — serving the callbacks of async
 * nodes itself when no server answers at the base URL (../callback-server.ts) — or against a
 * server with `--url`. A file `stitch export` wrote runs as it is: its sub-flows are named, and
 * looked up by name here.
 */
import type { Command } from 'commander';
import { getConfig } from '@/lib/config';
import { createFlow, updateFlow } from '@/lib/engine/flows';
import { findFlowByName } from '@/lib/db/queries/flows';
import { getRunWithNodes } from '@/lib/db/runs';
import { startRun } from '@/lib/engine/start-run';
import { startStitch } from '@/lib/stitch';
import { ApiClient } from '../api-client';
import { parseInputOption, readFlowFile, type FlowFile } from '../flow-file';
import { withReuseAndCost } from '@/lib/usage/run-cost';
import { ProgressPrinter, followRun, formatCost, type RunSnapshot } from '../run-progress';
import { getPool } from '@/lib/db/pool';
import { followStream } from '@/lib/live/stream-follow';
import type { StreamMessage } from '@/types/stitch';
import { getExecutionGraph } from '@/lib/engine/graph-cache';
import type { RunningServer } from '@/server/listen';
import { serveCallbacksIfNeeded } from '../callback-server';
import type { ValidationIssue, VisualGraph } from '@/types/stitch';
import { ValidationError } from '@/lib/errors';
import { graphForDatabase } from '@/lib/flow-files/deploy';
import { withFlowIds } from '@/lib/flow-files/format';
import { collectTag, parsePriority } from '../tag-options';

interface RunOptions {
  input?: string;
  tag?: Record<string, string>;
  priority?: string;
  url?: string;
  stream?: boolean;
}

/** What a run starts with besides its flow. */
interface RunStart {
  input: unknown;
  tags?: Record<string, string>;
  priority?: number;
}

/** Start the run somewhere; return how to read it back. */
interface RunTarget {
  start(flow: FlowFile, run: RunStart): Promise<{ runId: string; read: () => Promise<RunSnapshot> }>;
  /** Follow the run's streamed output; returns how to stop. */
  follow(runId: string, onStream: (message: StreamMessage) => void): Promise<() => void>;
  close(): Promise<void>;
}

/** A graph whose `flow` nodes may name their flows (`flowName`, as `stitch export` writes them), with the names looked up. */
function withIdsFor(graph: unknown, resolved: { graph: VisualGraph; issues: ValidationIssue[] } | undefined): unknown {
  if (!resolved) return graph;
  if (resolved.issues.length) throw new ValidationError(resolved.issues[0].message, resolved.issues);
  return resolved.graph;
}

const isVisualGraph = (graph: unknown): graph is VisualGraph => Array.isArray((graph as { nodes?: unknown } | null)?.nodes);

async function localTarget(): Promise<RunTarget> {
  const stitch = await startStitch();
  let callbacks: RunningServer | undefined;
  return {
    async start(flow, run) {
      const existing = await findFlowByName(getPool(), flow.name);
      const graph = withIdsFor(flow.graph, isVisualGraph(flow.graph) ? await graphForDatabase(getPool(), flow.graph) : undefined);
      const saved = existing ? await updateFlow(existing.id, graph) : await createFlow(flow.name, graph);
      callbacks = await serveCallbacksIfNeeded(stitch.config, await getExecutionGraph(saved.versionId), (line) => console.log(line));
      const { runId } = await startRun(saved.id, { ...run, trigger: { type: 'cli' } });
      return { runId, read: async () => (await withReuseAndCost(await getRunWithNodes(runId))) as RunSnapshot };
    },
    follow: (runId, onStream) => followStream(runId, onStream),
    async close() {
      await callbacks?.close();
      await stitch.stop();
    },
  };
}

function remoteTarget(url: string): RunTarget {
  const api = new ApiClient(url, getConfig().apiKey);
  return {
    async start(flow, run) {
      const flows = await api.listAll<{ id: string; name: string }>('/api/flows', 'flows');
      const existing = flows.find((f) => f.name === flow.name);
      const idOf = (name: string) => flows.find((f) => f.name === name)?.id;
      const graph = withIdsFor(flow.graph, isVisualGraph(flow.graph) ? withFlowIds(flow.graph, idOf) : undefined);
      const flowId = existing
        ? (await api.request<{ id: string }>('PUT', `/api/flows/${existing.id}`, { graph })).id
        : (await api.request<{ id: string }>('POST', '/api/flows', { name: flow.name, graph })).id;
      const { runId } = await api.request<{ runId: string }>('POST', `/api/flows/${flowId}/run`, run);
      return { runId, read: () => api.request<RunSnapshot>('GET', `/api/runs/${runId}`) };
    },
    follow: async (runId, onStream) =>
      api.events(`/api/runs/${runId}/events`, (message) => {
        if (message.type === 'node:stream') onStream(message);
      }),
    close: async () => {},
  };
}

function nodeCountOf(graph: unknown): number {
  const nodes = (graph as { nodes?: unknown } | undefined)?.nodes;
  return Array.isArray(nodes) ? nodes.length : 0;
}

export function registerRunCommand(program: Command): void {
  program
    .command('run')
    .argument('<flow.json>', 'a flow file: {name, graph, input} or a bare React Flow graph')
    .option('--input <json>', 'run input as JSON, or @file.json (overrides the file\'s "input")')
    .option('--tag <name=value>', 'a tag of the run, e.g. --tag customer=acme (repeatable)', collectTag)
    .option('--priority <n>', 'the run\'s priority (0…100, higher first; default 0)')
    .option('--url <url>', 'run on a Stitch server (e.g. http://127.0.0.1:3000) instead of in this process')
    .option('--stream', 'print what nodes stream (e.g. Claude\'s text as it is written) even when the output is not a terminal')
    .description('Create or update the flow from a file, run it with live progress, print its output (exit 0 = completed)')
    .action(async (file: string, options: RunOptions) => {
      const flow = readFlowFile(file);
      const input = options.input !== undefined ? parseInputOption(options.input) : flow.input;
      const target = options.url ? remoteTarget(options.url) : await localTarget();
      try {
        const { runId, read } = await target.start(flow, { input, tags: options.tag, priority: parsePriority(options.priority) });
        console.log(`Run ${runId} of "${flow.name}"`);
        const printer = new ProgressPrinter(process.stdout, nodeCountOf(flow.graph));
        // Streamed text is for a person at a terminal; piped output stays the progress lines and the result.
        const unfollow = options.stream || process.stdout.isTTY ? await target.follow(runId, (m) => printer.stream(m)) : undefined;
        const run = await followRun(read, printer).finally(() => unfollow?.());
        console.log(`Run ${run.status}${run.error ? `: ${run.error}` : ''}`);
        if (run.cost) console.log(formatCost(run.cost));
        // A failed or cancelled run has no output: nothing to print, not a stray `null`.
        if (run.output !== null && run.output !== undefined) console.log(JSON.stringify(run.output, null, 2));
        process.exitCode = run.status === 'completed' ? 0 : 1;
      } finally {
        await target.close();
      }
    });
}

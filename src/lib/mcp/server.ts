/**
 * Stitch as an MCP server (the official `@modelcontextprotocol/sdk`): every flow is a tool, plus
 * `get_run` and `cancel_run`. Calling a flow's tool starts a run through the one start path
 * (`startRun`) and answers with the run's output, sending `notifications/progress` while it runs
 * when the client asked for progress. A run still going after `waitSeconds` is answered with its
 * id and how to follow it. Saving or deleting a flow sends `notifications/tools/list_changed`.
 *
 * One `Server` per client session; the transports are chosen by the caller (stdio in `stitch mcp`,
 * Streamable HTTP at `/mcp`). Run events come through `watchRun`, which the caller supplies
 * (the server's event hub), so this module does not depend on the HTTP layer.
 */
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import {
  CallToolRequestSchema,
  ErrorCode,
  ListToolsRequestSchema,
  McpError,
  type CallToolResult,
  type ServerNotification,
  type Tool,
} from '@modelcontextprotocol/sdk/types.js';
import { cancelRun, startRun } from '@/lib/engine/start-run';
import { getRun, getRunWithNodes } from '@/lib/db/runs';
import { NUMBER_KEY, decodeCursor, encodeCursor } from '@/lib/db/queries/keyset-cursor';
import { toClientError } from '@/lib/client-errors';
import { getLogger } from '@/lib/log';
import { validateInput } from '@/lib/workers/validate-input';
import type { WorkerDefinition } from '@/types/stitch';
import { onFlowsChanged } from './flow-changes';
import { listFlowTools, type FlowTool } from './flow-tools';
import { waitForRun, type WatchRun } from './wait-for-run';

/** Tools per `tools/list` page. */
export const TOOLS_PAGE = 100;

/** Where a `tools/list` page starts: 0, or the offset its cursor holds (InvalidParams otherwise, as MCP says). */
function toolsPageStart(cursor: string | undefined): number {
  try {
    return Number(decodeCursor(cursor, [NUMBER_KEY])?.[0] ?? 0);
  } catch {
    throw new McpError(ErrorCode.InvalidParams, 'The cursor is not valid: pass the nextCursor of a previous tools/list answer.');
  }
}

export interface StitchMcpOptions {
  /** Subscribe to one run's events; resolves to the unsubscribe once subscribed. */
  watchRun: WatchRun;
  /** How long a tool call waits for its run before answering with the run id. Default 60 s. */
  waitSeconds?: number;
  /** Where the run can be followed over HTTP, for the "still running" answer (e.g. `http://127.0.0.1:3000`). */
  baseUrl?: string;
}

const RUN_ID_SCHEMA = {
  type: 'object' as const,
  properties: { runId: { type: 'string', description: 'The run id a flow tool returned' } },
  required: ['runId'],
};

const BUILTIN_TOOLS: Tool[] = [
  {
    name: 'get_run',
    description: "A Stitch run's status, output or error, and each node's status. Use it to follow a run a flow tool left running.",
    inputSchema: RUN_ID_SCHEMA,
  },
  {
    name: 'cancel_run',
    description: 'Cancel a running Stitch run: its open work and its sub-flow runs are cancelled.',
    inputSchema: RUN_ID_SCHEMA,
  },
];

const text = (value: string, isError = false, structured?: Record<string, unknown>): CallToolResult => ({
  content: [{ type: 'text', text: value }],
  ...(structured ? { structuredContent: structured } : {}),
  ...(isError ? { isError: true } : {}),
});

/**
 * Errors are told as the HTTP API tells them (src/lib/client-errors.ts): what the caller can act on
 * (bad input, a missing run, data the database refuses) is a tool result with isError; a fault of
 * the server is an InternalError in Stitch's words, its details in the log. An McpError (protocol
 * misuse: an unknown tool) passes as it is. Nothing else reaches the SDK, which would send any
 * thrown message — the database's wording included — to the client.
 */
function toolError(error: unknown): CallToolResult {
  if (error instanceof McpError) throw error;
  const answer = toClientError(error);
  if (answer.log !== 'none') getLogger()[answer.log]({ err: error }, answer.status >= 500 ? 'MCP request failed' : 'MCP request refused');
  if (answer.status < 500) return text(answer.message, true);
  throw new McpError(ErrorCode.InternalError, answer.message);
}

function runIdOf(args: Record<string, unknown> | undefined): string {
  if (typeof args?.runId !== 'string') throw new McpError(ErrorCode.InvalidParams, 'runId (string) is required');
  return args.runId;
}

async function getRunTool(args: Record<string, unknown> | undefined): Promise<CallToolResult> {
  const run = await getRunWithNodes(runIdOf(args));
  const nodes = Object.fromEntries(Object.entries(run.nodes).map(([id, n]) => [id, n.status]));
  const summary = { runId: run.id, status: run.status, output: run.output ?? null, error: run.error, nodes };
  return text(JSON.stringify(summary, null, 2), false, summary);
}

async function cancelRunTool(args: Record<string, unknown> | undefined): Promise<CallToolResult> {
  const runId = runIdOf(args);
  await cancelRun(runId);
  return text(`Run ${runId} cancelled.`, false, { runId, status: (await getRun(runId)).status });
}

async function callFlowTool(
  tool: FlowTool,
  args: Record<string, unknown> | undefined,
  options: StitchMcpOptions,
  extra: { signal: AbortSignal; progressToken?: string | number; sendNotification: (n: ServerNotification) => Promise<void> },
): Promise<CallToolResult> {
  let input: unknown = args ?? {};
  if (tool.fields) {
    // The start node's declared fields: required ones present, types right, defaults filled in.
    const checked = validateInput({ input: tool.fields } as WorkerDefinition, args ?? {});
    if (checked.problems.length) return text(`Invalid input for ${tool.name}: ${checked.problems.join('; ')}`, true);
    input = { ...(args ?? {}), ...(checked.input as Record<string, unknown>) };
  }
  const { runId, versionId } = await startRun(tool.flowId, { input, trigger: { type: 'mcp', tool: tool.name } });
  const outcome = await waitForRun(runId, versionId, {
    watchRun: options.watchRun,
    waitMs: (options.waitSeconds ?? 60) * 1000,
    signal: extra.signal,
    onProgress:
      extra.progressToken === undefined
        ? undefined
        : (progress, total, message) =>
            extra.sendNotification({ method: 'notifications/progress', params: { progressToken: extra.progressToken!, progress, total, message } }),
  });
  if (outcome.status === 'completed') {
    return text(JSON.stringify(outcome.output ?? null, null, 2), false, { runId, status: 'completed', output: outcome.output ?? null });
  }
  if (outcome.status === 'failed' || outcome.status === 'cancelled') {
    return text(`Run ${runId} ${outcome.status}: ${outcome.error ?? 'no error message'}`, true, { runId, status: outcome.status, error: outcome.error });
  }
  const http = options.baseUrl ? ` (or GET ${options.baseUrl}/api/runs/${runId}, live events at ${options.baseUrl}/api/runs/${runId}/events)` : '';
  return text(
    `Run ${runId} is still running. Call get_run with {"runId": "${runId}"} to read its status and output${http}; cancel_run stops it.`,
    false,
    { runId, status: outcome.status },
  );
}

/** A connected-to-nothing MCP server for one client session; `close()` it (or its transport) when done. */
export async function createStitchMcpServer(options: StitchMcpOptions): Promise<Server> {
  const server = new Server(
    { name: 'stitch', version: '0.1.0' },
    {
      capabilities: { tools: { listChanged: true } },
      instructions:
        'Each tool runs one Stitch flow and returns its output. Long runs return a run id: follow it with get_run, stop it with cancel_run.',
    },
  );
  server.setRequestHandler(ListToolsRequestSchema, async (request) => {
    try {
      // One page of TOOLS_PAGE tools, as every list is (MCP's own cursor): a client follows nextCursor.
      const from = toolsPageStart(request.params?.cursor);
      const tools: Tool[] = [...BUILTIN_TOOLS, ...(await listFlowTools()).map(({ name, description, inputSchema }) => ({ name, description, inputSchema }))];
      const next = from + TOOLS_PAGE < tools.length ? encodeCursor([String(from + TOOLS_PAGE)]) : undefined;
      return { tools: tools.slice(from, from + TOOLS_PAGE), ...(next ? { nextCursor: next } : {}) };
    } catch (error) {
      if (error instanceof McpError) throw error;
      const answer = toClientError(error);
      if (answer.log !== 'none') getLogger()[answer.log]({ err: error }, 'MCP tools/list failed');
      throw new McpError(ErrorCode.InternalError, answer.message);
    }
  });
  server.setRequestHandler(CallToolRequestSchema, async (request, extra) => {
    const { name, arguments: args } = request.params;
    try {
      if (name === 'get_run') return await getRunTool(args);
      if (name === 'cancel_run') return await cancelRunTool(args);
      const tool = (await listFlowTools()).find((t) => t.name === name);
      if (!tool) throw new McpError(ErrorCode.InvalidParams, `Unknown tool "${name}": tools/list names every flow`);
      return await callFlowTool(tool, args, options, {
        signal: extra.signal,
        progressToken: request.params._meta?.progressToken,
        sendNotification: extra.sendNotification,
      });
    } catch (error) {
      return toolError(error);
    }
  });

  // Only an initialised session is told; a notification that cannot be sent (the client went away) is dropped.
  const unsubscribe = await onFlowsChanged(() => {
    if (server.getClientCapabilities()) server.sendToolListChanged().catch(() => {});
  });
  const previous = server.onclose;
  server.onclose = () => {
    unsubscribe();
    previous?.();
  };
  return server;
}

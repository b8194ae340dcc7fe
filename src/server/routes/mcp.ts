/**
 * `/mcp`: Stitch's flows as MCP tools over Streamable HTTP (POST for requests, GET for the
 * server → client stream that carries list-changed notifications, DELETE to end a session).
 * Behind the API key like `/api/*` when one is set.
 *
 * Sessions live in the process that created them (the SDK transport keeps the open streams), so
 * several `serve` processes behind one address need sticky sessions; everything a tool does goes
 * through the database and is visible to every process. They are bounded in number and idle time
 * (src/server/mcp-sessions.ts).
 */
import { randomUUID } from 'node:crypto';
import { Hono, type Context } from 'hono';
import { WebStandardStreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js';
import type { Config } from '@/lib/config';
import { createStitchMcpServer } from '@/lib/mcp/server';
import type { WatchRun } from '@/lib/mcp/wait-for-run';
import { getEventHub } from '../events/event-hub';
import { McpSessions } from '../mcp-sessions';

/** How long a client refused for lack of room waits before trying again. */
const RETRY_AFTER_SECONDS = 5;

/** The session registries of this process's apps (one per app), for `closeMcpSessions`. */
const registries = new Set<McpSessions>();

/** Run events from this process's event hub (LISTEN/NOTIFY): a hub that stops wakes the waiter. */
export const watchRunWithHub: WatchRun = (runId, onEvents) =>
  getEventHub().subscribe(runId, { onEvents, onClose: () => onEvents([]) });

const jsonRpcError = (c: Context, status: 400 | 403 | 404 | 503, code: number, message: string) =>
  c.json({ jsonrpc: '2.0', error: { code, message }, id: null }, status);

/**
 * The MCP spec asks servers to check Origin against DNS rebinding: a page in a browser may only
 * reach /mcp from this server's own origin. Clients outside browsers send no Origin.
 */
function foreignOrigin(c: Context): boolean {
  const origin = c.req.header('origin');
  if (!origin) return false;
  try {
    return new URL(origin).host !== c.req.header('host');
  } catch {
    return true;
  }
}

export function mcpRoutes(config: Config) {
  const app = new Hono();
  const sessions = new McpSessions({ maxSessions: config.limits.mcpSessions, idleSeconds: config.limits.mcpSessionIdleSeconds });
  registries.add(sessions);
  app.all('/mcp', async (c) => {
    if (foreignOrigin(c)) return jsonRpcError(c, 403, -32000, 'Requests from another origin are refused.');
    const sessionId = c.req.header('mcp-session-id');
    if (sessionId) {
      const response = await sessions.handle(sessionId, c.req.raw);
      return response ?? jsonRpcError(c, 404, -32001, 'Unknown or ended MCP session: initialize a new one.');
    }
    if (c.req.method !== 'POST') return jsonRpcError(c, 400, -32000, 'Start a session with an initialize request (POST), then send its mcp-session-id header.');

    const server = await createStitchMcpServer({ watchRun: watchRunWithHub, baseUrl: config.baseUrl });
    const transport: WebStandardStreamableHTTPServerTransport = new WebStandardStreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      onsessioninitialized: (id) => sessions.add(id, transport, server),
      onsessionclosed: (id) => sessions.remove(id),
    });
    transport.onclose = () => {
      if (transport.sessionId) sessions.remove(transport.sessionId);
    };
    await server.connect(transport);
    const response = await transport.handleRequest(c.req.raw);
    const id = transport.sessionId;
    // Anything but a successful initialize leaves no session to keep.
    if (!id || !sessions.has(id)) {
      await server.close();
      return response;
    }
    // A new session beyond the limit: the one idle the longest ends, or, all being busy, this one.
    if (!(await sessions.makeRoom(id))) {
      await response.body?.cancel();
      await sessions.end(id, 'refused: every session is busy');
      c.header('Retry-After', String(RETRY_AFTER_SECONDS));
      return jsonRpcError(c, 503, -32000, `Too many MCP sessions are busy (the limit is ${config.limits.mcpSessions}, STITCH_MAX_MCP_SESSIONS): try again shortly.`);
    }
    return response;
  });
  return app;
}

/** End every MCP session of this process (server shutdown). */
export async function closeMcpSessions(): Promise<void> {
  const all = [...registries];
  registries.clear();
  await Promise.allSettled(all.map((r) => r.closeAll()));
}

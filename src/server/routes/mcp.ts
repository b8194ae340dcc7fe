/**
 * `/mcp`: Stitch's flows as MCP tools over Streamable HTTP (POST for requests, GET for the
 * server → client stream that carries list-changed notifications, DELETE to end a session).
 * Behind the API key like `/api/*` when one is set.
 *
 * Sessions live in the process that created them (the SDK transport keeps the open streams), so
 * several `serve` processes behind one address need sticky sessions; everything a tool does goes
 * through the database and is visible to every process.
 */
import { randomUUID } from 'node:crypto';
import { Hono, type Context } from 'hono';
import { WebStandardStreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js';
import type { Config } from '@/lib/config';
import { createStitchMcpServer } from '@/lib/mcp/server';
import type { WatchRun } from '@/lib/mcp/wait-for-run';
import { getEventHub } from '../events/event-hub';

const sessions = new Map<string, WebStandardStreamableHTTPServerTransport>();

/** Run events from this process's event hub (LISTEN/NOTIFY): a hub that stops wakes the waiter. */
export const watchRunWithHub: WatchRun = (runId, onEvents) =>
  getEventHub().subscribe(runId, { onEvents, onClose: () => onEvents([]) });

const jsonRpcError = (c: Context, status: 400 | 403 | 404, code: number, message: string) =>
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
  app.all('/mcp', async (c) => {
    if (foreignOrigin(c)) return jsonRpcError(c, 403, -32000, 'Requests from another origin are refused.');
    const sessionId = c.req.header('mcp-session-id');
    if (sessionId) {
      const transport = sessions.get(sessionId);
      if (!transport) return jsonRpcError(c, 404, -32001, 'Unknown or ended MCP session: initialize a new one.');
      return transport.handleRequest(c.req.raw);
    }
    if (c.req.method !== 'POST') return jsonRpcError(c, 400, -32000, 'Start a session with an initialize request (POST), then send its mcp-session-id header.');

    const transport: WebStandardStreamableHTTPServerTransport = new WebStandardStreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      onsessioninitialized: (id) => void sessions.set(id, transport),
      onsessionclosed: (id) => void sessions.delete(id),
    });
    const server = await createStitchMcpServer({ watchRun: watchRunWithHub, baseUrl: config.baseUrl });
    transport.onclose = () => {
      if (transport.sessionId) sessions.delete(transport.sessionId);
    };
    await server.connect(transport);
    const response = await transport.handleRequest(c.req.raw);
    // Anything but a successful initialize leaves no session to keep.
    if (!transport.sessionId || !sessions.has(transport.sessionId)) await server.close();
    return response;
  });
  return app;
}

/** End every MCP session of this process (server shutdown). */
export async function closeMcpSessions(): Promise<void> {
  const open = [...sessions.values()];
  sessions.clear();
  await Promise.allSettled(open.map((t) => t.close()));
}

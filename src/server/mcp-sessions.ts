/**
 * The MCP sessions of this process, bounded (docs/architecture.md, "Limits"): a session idle for
 * `STITCH_MCP_SESSION_IDLE_SECONDS` ends, and at most `STITCH_MAX_MCP_SESSIONS` live at once — a
 * new one makes room by ending the session idle the longest, or, when every session is busy, is
 * refused (503 with Retry-After). A session is busy while one of its requests or streams is open.
 * Ending a session closes its transport, which closes its MCP server and with it the server's
 * listeners (flow changes, run events of its tool calls).
 */
import type { Server } from '@modelcontextprotocol/sdk/server/index.js';
import type { WebStandardStreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js';
import { getLogger } from '@/lib/log';

interface Session {
  transport: WebStandardStreamableHTTPServerTransport;
  server: Server;
  /** Requests and response streams open now. */
  open: number;
  /** When it was last busy (ms since the epoch). */
  lastActive: number;
}

export interface SessionLimits {
  maxSessions: number;
  idleSeconds: number;
}

export class McpSessions {
  private readonly sessions = new Map<string, Session>();
  private sweeper: NodeJS.Timeout | undefined;

  constructor(private readonly limits: SessionLimits) {}

  get size(): number {
    return this.sessions.size;
  }

  has(id: string): boolean {
    return this.sessions.has(id);
  }

  add(id: string, transport: WebStandardStreamableHTTPServerTransport, server: Server): void {
    this.sessions.set(id, { transport, server, open: 0, lastActive: Date.now() });
    // Sweep at a tenth of the idle time (bounded): an idle session ends within 110 % of it.
    this.sweeper ??= setInterval(() => this.sweep(), Math.min(60_000, this.limits.idleSeconds * 100)).unref();
  }

  /** Forget a session that ended by itself (DELETE, transport closed). */
  remove(id: string): void {
    this.sessions.delete(id);
    if (this.sessions.size === 0) this.stopSweeper();
  }

  /**
   * Keep the count within the limit after session `added` joined: idle sessions past their time
   * end; beyond the limit, the one idle the longest ends. False when the limit is exceeded and
   * every other session is busy (the caller ends `added`).
   */
  async makeRoom(added: string): Promise<boolean> {
    await this.sweep();
    if (this.sessions.size <= this.limits.maxSessions) return true;
    let oldest: [string, Session] | undefined;
    for (const entry of this.sessions) {
      if (entry[0] !== added && entry[1].open === 0 && (!oldest || entry[1].lastActive < oldest[1].lastActive)) oldest = entry;
    }
    if (!oldest) return false;
    await this.end(oldest[0], 'evicted: the session limit was reached');
    return true;
  }

  /**
   * Handle one request of session `id` (undefined when it is unknown): the session is busy until
   * the request is answered and its response stream, if any, has ended.
   */
  async handle(id: string, request: Request): Promise<Response | undefined> {
    const session = this.sessions.get(id);
    if (!session) return undefined;
    session.open += 1;
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      session.open -= 1;
      session.lastActive = Date.now();
    };
    try {
      return whenBodyEnds(await session.transport.handleRequest(request), release);
    } catch (error) {
      release();
      throw error;
    }
  }

  /** End every session (the server is closing). */
  async closeAll(): Promise<void> {
    this.stopSweeper();
    const ids = [...this.sessions.keys()];
    await Promise.allSettled(ids.map((id) => this.end(id, 'server closing')));
  }

  private async sweep(): Promise<void> {
    const cutoff = Date.now() - this.limits.idleSeconds * 1000;
    const expired = [...this.sessions].filter(([, s]) => s.open === 0 && s.lastActive < cutoff).map(([id]) => id);
    await Promise.allSettled(expired.map((id) => this.end(id, 'idle')));
  }

  /** End a session: its transport and server close, and their listeners with them. */
  async end(id: string, why: string): Promise<void> {
    const session = this.sessions.get(id);
    if (!session) return;
    this.remove(id);
    getLogger().debug({ session: id, why }, 'MCP session ended');
    await session.transport.close().catch(() => {});
    await session.server.close().catch(() => {});
  }

  private stopSweeper(): void {
    clearInterval(this.sweeper);
    this.sweeper = undefined;
  }
}

/** `response`, calling `done` once its body has been read to the end or abandoned (at once when it has none). */
function whenBodyEnds(response: Response, done: () => void): Response {
  if (!response.body) {
    done();
    return response;
  }
  const reader = response.body.getReader();
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const { done: ended, value } = await reader.read();
        if (ended) {
          controller.close();
          done();
        } else controller.enqueue(value);
      } catch (error) {
        done();
        controller.error(error);
      }
    },
    cancel(reason) {
      done();
      return reader.cancel(reason);
    },
  });
  return new Response(body, { status: response.status, statusText: response.statusText, headers: response.headers });
}

/**
 * Put the app on a socket, under the binding rule: without STITCH_API_KEY the server listens on
 * loopback only (and says so); a non-loopback HOST without a key is refused at start, because the
 * management API would be open to the network.
 */
import type { AddressInfo } from 'node:net';
import { serve, type ServerType } from '@hono/node-server';
import type { Config } from '@/lib/config';
import { StitchError } from '@/lib/errors';
import { getLogger } from '@/lib/log';
import { createApp, type AppOptions } from './app';
import { stopEventHub } from './events/event-hub';
import { closeMcpSessions } from './routes/mcp';

export interface RunningServer {
  /** Where the server listens, e.g. `http://127.0.0.1:3000`. */
  url: string;
  port: number;
  /** Stop accepting connections, end event streams, and wait for requests in flight (bounded). */
  close(): Promise<void>;
}

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127(\.\d{1,3}){3}$/.test(host);
}

/** The address to bind, or a refusal that says how to fix it. */
export function bindAddress(config: Config): string {
  if (config.apiKey) return config.host;
  if (!isLoopback(config.host)) {
    throw new StitchError(
      'insecure_bind',
      `HOST=${config.host} would open the management API to the network without authentication. ` +
        'Set STITCH_API_KEY (clients then send "Authorization: Bearer <key>"), or leave HOST unset to listen on 127.0.0.1.',
    );
  }
  return config.host === 'localhost' ? '127.0.0.1' : config.host;
}

const CLOSE_GRACE_MS = 5000;

export async function startServer(config: Config, options: Omit<AppOptions, 'config'> = {}): Promise<RunningServer> {
  const hostname = bindAddress(config);
  const closing = new AbortController();
  const app = createApp({ ...options, config, closing: closing.signal });
  const server: ServerType = await new Promise((resolve, reject) => {
    const s = serve({ fetch: app.fetch, port: config.port, hostname }, () => resolve(s));
    s.once('error', reject);
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://${hostname.includes(':') ? `[${hostname}]` : hostname}:${port}`;
  if (!config.apiKey) getLogger().info({ host: hostname }, `No STITCH_API_KEY is set: listening on ${hostname} only`);
  return {
    url,
    port,
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      // Long-polls end first: woken by the hub's close, they would otherwise LISTEN again on a new hub.
      closing.abort();
      await closeMcpSessions();
      await stopEventHub();
      const timer = setTimeout(() => (server as { closeAllConnections?: () => void }).closeAllConnections?.(), CLOSE_GRACE_MS);
      await closed;
      clearTimeout(timer);
      // A request that was still finishing may have listened again meanwhile.
      await stopEventHub();
    },
  };
}

/**
 * A Stitch HTTP server on loopback for tests: a fresh database, Stitch started on it, and the
 * server listening on a free port. `api()` speaks JSON to it over real HTTP.
 */
import { startTestStitch, type TestStitch } from '../db';
import { startServer, type RunningServer } from '@/server/listen';
import type { StitchOptions } from '@/lib/stitch';
import { freePort } from '@/lib/db/embedded';

export interface ApiResponse<T = any> {
  status: number;
  body: T;
  headers: Headers;
}

export interface TestServer {
  stitch: TestStitch;
  server: RunningServer;
  url: string;
  api<T = any>(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<ApiResponse<T>>;
  close(): Promise<void>;
}

export async function startTestServer(options: StitchOptions & { env?: Record<string, string> } = {}): Promise<TestServer> {
  // The port is chosen first so that the started runtime's base URL (callback URLs) is this server's.
  const port = Number(options.env?.PORT) || (await freePort());
  const stitch = await startTestStitch({ ...options, env: { STITCH_BASE_URL: `http://127.0.0.1:${port}`, ...options.env, PORT: String(port) } });
  const server = await startServer(stitch.config);
  const api = async (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => {
    const init: RequestInit = { method, headers: { ...headers } };
    if (body !== undefined) {
      init.body = typeof body === 'string' ? body : JSON.stringify(body);
      (init.headers as Record<string, string>)['content-type'] ??= 'application/json';
    }
    const response = await fetch(server.url + path, init);
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      // not JSON (SSE, HTML): keep the text
    }
    return { status: response.status, body: parsed as any, headers: response.headers };
  };
  return {
    stitch,
    server,
    url: server.url,
    api,
    async close() {
      await server.close();
      await stitch.destroy();
    },
  };
}

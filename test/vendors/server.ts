/**
 * A tiny HTTP server on loopback for fake vendor APIs: records every request (method, path, query,
 * lower-cased headers, parsed body) and hands it to a handler that writes the response. A handler
 * may `hang()` to simulate a timeout (the connection is closed on `close()`).
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Recorded {
  method: string;
  path: string;
  query: Record<string, string>;
  headers: Record<string, string>;
  /** Parsed JSON when possible, else the text. */
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any -- vendor payloads are free-form
}

export type Handler = (req: Recorded, res: ServerResponse) => void | Promise<void>;

export interface VendorServer {
  url: string;
  requests: Recorded[];
  close(): Promise<void>;
}

async function record(req: IncomingMessage): Promise<Recorded> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  let body: unknown = text;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    // not JSON
  }
  const url = new URL(req.url ?? '/', 'http://127.0.0.1');
  const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, String(v)]));
  return { method: req.method ?? 'GET', path: url.pathname, query: Object.fromEntries(url.searchParams), headers, body };
}

export async function startVendorServer(handler: Handler): Promise<VendorServer> {
  const requests: Recorded[] = [];
  const server = createServer((req, res) => {
    void record(req).then(async (r) => {
      requests.push(r);
      try {
        await handler(r, res);
      } catch (error) {
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify({ error: String(error) }));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));
}

/** Simulated vendor failures every fake supports, set per test: the next matching request fails so. */
export type Failure = 'none' | '4xx' | '5xx' | 'timeout' | 'malformed';

/** POST JSON to a URL (a vendor calling Stitch back); returns status and parsed body. */
export async function postJson(url: string, body: unknown): Promise<{ status: number; body: any }> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // keep text
  }
  return { status: response.status, body: parsed };
}

/**
 * A tiny HTTP server on loopback for fake vendor APIs: records every request (method, path, query,
 * lower-cased headers, parsed body) and hands it to a handler that writes the response. A handler
 * may `hang()` to simulate a timeout (the connection is closed on `close()`).
 */
import type { ServerResponse } from 'node:http';
import { startRecordingServer, type FakeRequest, type FakeVendor } from '@/lib/workers/testing';

/** A recorded request; `body` typed loosely because vendor payloads are free-form. */
export type Recorded = Omit<FakeRequest, 'body'> & { body: any }; // eslint-disable-line @typescript-eslint/no-explicit-any -- see above

export type Handler = (req: Recorded, res: ServerResponse) => void | Promise<void>;

export type VendorServer = Omit<FakeVendor, 'requests'> & { requests: Recorded[] };

/** The SDK's recording server (src/lib/workers/testing.ts), with raw-response handlers. */
export async function startVendorServer(handler: Handler): Promise<VendorServer> {
  return (await startRecordingServer((req, res) => handler(req, res))) as VendorServer;
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

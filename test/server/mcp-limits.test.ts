/**
 * Issue 21, items 9 and 10: MCP sessions are bounded (an idle time, a count with the oldest idle
 * evicted or 503 + Retry-After, listeners ending with their session), and MCP tells errors as the
 * HTTP API does — never in the database's words.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { createFlow } from '@/lib/engine/flows';
import { flowChangeListenerCount } from '@/lib/mcp/flow-changes';
import { eventually, graph } from '../helpers';
import { startTestServer, type TestServer } from './http';

const MAX_SESSIONS = 4;
let srv: TestServer;

beforeAll(async () => {
  srv = await startTestServer({ env: { STITCH_MAX_MCP_SESSIONS: String(MAX_SESSIONS), STITCH_MCP_SESSION_IDLE_SECONDS: '2' } });
  await createFlow('Echo text', graph([{ id: 's', type: 'start', inputSchema: { text: { type: 'string', description: 'anything' } } }, 'e:end'], [['s', 'e']]));
});
afterAll(() => srv?.close());

const HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };

/** A new session (raw initialize): its id. */
async function initialize(): Promise<{ status: number; id: string | null; retryAfter: string | null }> {
  const response = await fetch(`${srv.url}/mcp`, {
    method: 'POST',
    headers: HEADERS,
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-03-26', capabilities: {}, clientInfo: { name: 't', version: '1' } } }),
  });
  await response.text();
  return { status: response.status, id: response.headers.get('mcp-session-id'), retryAfter: response.headers.get('retry-after') };
}

/** Whether the server still knows session `id` (a ping answers 200; an ended session 404). */
async function alive(id: string): Promise<boolean> {
  const response = await fetch(`${srv.url}/mcp`, {
    method: 'POST',
    headers: { ...HEADERS, 'mcp-session-id': id },
    body: JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'ping' }),
  });
  await response.text();
  return response.status === 200;
}

describe('MCP sessions are bounded (item 9)', () => {
  it('many initializes keep at most the limit; the session idle the longest goes first, with its listeners', async () => {
    const listenersBefore = flowChangeListenerCount();
    const ids: string[] = [];
    for (let i = 0; i < 40; i++) {
      const session = await initialize();
      expect(session.status).toBe(200);
      ids.push(session.id!);
    }
    // The newest ones live; the oldest were evicted, and their servers' listeners went with them.
    expect(flowChangeListenerCount() - listenersBefore).toBeLessThanOrEqual(MAX_SESSIONS);
    expect(await alive(ids[0])).toBe(false);
    expect(await alive(ids[39])).toBe(true);
    // A session in use is not the one evicted: the idle one is.
    const [a, b] = ids.slice(-MAX_SESSIONS);
    expect(await alive(a)).toBe(true); // now the most recently active of the four
    await initialize();
    expect(await alive(b)).toBe(false);
    expect(await alive(a)).toBe(true);
  });

  it('an idle session ends after STITCH_MCP_SESSION_IDLE_SECONDS, with its listeners', async () => {
    // The sessions of the test before expire first (watched without a request: one would make a session active again).
    await eventually(async () => flowChangeListenerCount() === 0, 15_000);
    const { id } = await initialize();
    expect(await alive(id!)).toBe(true);
    expect(flowChangeListenerCount()).toBe(1);
    await eventually(async () => flowChangeListenerCount() === 0, 15_000);
    expect(await alive(id!)).toBe(false);
  });

  it('when every session is busy, a new one is refused with 503 and Retry-After', async () => {
    // Busy sessions: each holds its server → client stream (GET) open.
    const streams: AbortController[] = [];
    try {
      for (let i = 0; i < MAX_SESSIONS; i++) {
        const { id } = await initialize();
        const abort = new AbortController();
        const stream = await fetch(`${srv.url}/mcp`, { headers: { accept: 'text/event-stream', 'mcp-session-id': id! }, signal: abort.signal });
        expect(stream.status).toBe(200);
        streams.push(abort);
      }
      const refused = await initialize();
      expect(refused.status).toBe(503);
      expect(Number(refused.retryAfter)).toBeGreaterThan(0);
      expect(refused.id === null || !(await alive(refused.id))).toBe(true);
    } finally {
      for (const abort of streams) abort.abort();
    }
    // Streams closed: the sessions are idle again, and a new one makes room.
    await eventually(async () => (await initialize()).status === 200, 10_000);
  });
});

describe('MCP tells errors as the HTTP API does (item 10)', () => {
  it('a NUL in a tool call\'s arguments is a tool error in Stitch\'s words, not the database\'s', async () => {
    const client = new Client({ name: 'stitch-test', version: '1.0.0' });
    const transport = new StreamableHTTPClientTransport(new URL(`${srv.url}/mcp`));
    await client.connect(transport);
    try {
      for (const text of ['a\u0000b', '\ud800']) {
        const result = (await client.callTool({ name: 'echo_text', arguments: { text } })) as CallToolResult;
        expect(result.isError).toBe(true);
        const message = (result.content[0] as { text: string }).text;
        expect(message).toMatch(/cannot store this request's data/);
        expect(message).not.toMatch(/unicode|escape|syntax|json/i);
      }
      // The session is fine afterwards.
      const ok = (await client.callTool({ name: 'echo_text', arguments: { text: 'fine' } })) as CallToolResult;
      expect(ok.isError).toBeFalsy();
    } finally {
      await transport.terminateSession().catch(() => {});
      await client.close();
    }
  });
});

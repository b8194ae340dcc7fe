/**
 * Flows as MCP tools, through the SDK's own client over both transports: Streamable HTTP at /mcp
 * (behind the API key) and stdio (`stitch mcp` as a child process on the same database).
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ToolListChangedNotificationSchema, type CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { createFlow } from '@/lib/engine/flows';
import { deleteFlow } from '@/lib/db/queries/flows';
import { graph, eventually } from '../helpers';
import { startTestServer, type TestServer } from './http';
import { REPO_ROOT } from './processes';
import { getPool } from '@/lib/db/pool';

const API_KEY = 'mcp-test-key-0123456789';
let srv: TestServer;

/** start (declares `name`) → greet (transform) → pause (wait 0.3 s) → end: built-in workers only, so any process can run it. */
const greeter = graph(
  [
    { id: 's', type: 'start', inputSchema: { name: { type: 'string', required: true, description: 'Who to greet' } } },
    { id: 'greet', workerType: 'transform', config: { set: { greeting: 'Hello {{name}}' } } },
    { id: 'pause', workerType: 'wait', config: { seconds: 0.3 } },
    'e:end',
  ],
  [['s', 'greet'], ['greet', 'pause'], ['pause', 'e']],
);

beforeAll(async () => {
  srv = await startTestServer({ env: { STITCH_API_KEY: API_KEY } });
  await createFlow('Greet someone!', greeter);
  await createFlow('needs a human', graph([{ id: 'gate', type: 'ux', config: { prompt: 'ok?' } }], []));
});
afterAll(() => srv?.close());

function textOf(result: CallToolResult): string {
  return (result.content[0] as { text: string }).text;
}

/** The same checks over either transport. */
async function checkClient(client: Client) {
  const changes: number[] = [];
  client.setNotificationHandler(ToolListChangedNotificationSchema, async () => void changes.push(Date.now()));

  const { tools } = await client.listTools();
  const greet = tools.find((t) => t.name === 'greet_someone')!;
  expect(tools.map((t) => t.name)).toEqual(expect.arrayContaining(['get_run', 'cancel_run', 'greet_someone', 'needs_a_human']));
  expect(greet.inputSchema).toEqual({ type: 'object', properties: { name: { type: 'string', description: 'Who to greet' } }, required: ['name'] });
  expect(greet.description).toContain('"Greet someone!"');

  const progress: Array<{ progress: number; total?: number }> = [];
  const result = (await client.callTool({ name: 'greet_someone', arguments: { name: 'Ada' } }, undefined, {
    onprogress: (p) => void progress.push(p),
  })) as CallToolResult;
  expect(result.isError).toBeFalsy();
  expect(JSON.parse(textOf(result))).toEqual({ name: 'Ada', greeting: 'Hello Ada', waitedSeconds: 0.3 });
  expect((result.structuredContent as { status: string }).status).toBe('completed');
  // The flow's 0.3 s wait guarantees notifications before the answer. (The SDK client handles a
  // notification a tick after it arrives and a response at once, so the very last one, sent just
  // before the answer, may be dropped by the client: it is not asserted.)
  expect(progress.length).toBeGreaterThanOrEqual(1);
  for (const [i, p] of progress.entries()) {
    expect(p.total).toBe(4);
    expect(p.progress).toBeLessThanOrEqual(4);
    if (i > 0) expect(p.progress).toBeGreaterThan(progress[i - 1].progress);
  }

  const bad = (await client.callTool({ name: 'greet_someone', arguments: {} })) as CallToolResult;
  expect(bad.isError).toBe(true);
  expect(textOf(bad)).toMatch(/Missing required field: name/);

  // Saving, renaming or deleting a flow changes the list, and the client is told.
  const seen = changes.length;
  const added = await createFlow('Brand new flow', graph(['s:start', 'e:end'], [['s', 'e']]));
  await eventually(async () => changes.length > seen);
  expect((await client.listTools()).tools.map((t) => t.name)).toContain('brand_new_flow');
  const afterAdd = changes.length;
  await deleteFlow(getPool(), added.id);
  await eventually(async () => changes.length > afterAdd);
  expect((await client.listTools()).tools.map((t) => t.name)).not.toContain('brand_new_flow');
}

describe('MCP over Streamable HTTP (/mcp)', () => {
  it('refuses a client without the API key', async () => {
    const response = await fetch(`${srv.url}/mcp`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: {} }),
    });
    expect(response.status).toBe(401);
  });

  it('lists flows as tools, runs one with progress, tells of list changes; get_run and cancel_run', async () => {
    const client = new Client({ name: 'stitch-test', version: '1.0.0' });
    const transport = new StreamableHTTPClientTransport(new URL(`${srv.url}/mcp`), {
      requestInit: { headers: { Authorization: `Bearer ${API_KEY}` } },
    });
    await client.connect(transport);
    try {
      await checkClient(client);
      const missing = (await client.callTool({ name: 'get_run', arguments: { runId: '00000000-0000-4000-8000-000000000000' } })) as CallToolResult;
      expect(missing.isError).toBe(true);
      expect(textOf(missing)).toMatch(/not found/i);
    } finally {
      await transport.terminateSession().catch(() => {});
      await client.close();
    }
  });
});

describe('MCP over stdio (stitch mcp)', () => {
  it('serves the same tools; a run past --wait answers with its id, which get_run and cancel_run follow', async () => {
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: ['--import', 'tsx', path.join(REPO_ROOT, 'src/cli/index.ts'), 'mcp', '--wait', '1'],
      cwd: REPO_ROOT,
      env: { ...(process.env as Record<string, string>), DATABASE_URL: srv.stitch.url, STITCH_LOG_LEVEL: 'warn', STITCH_SECRET: 'test-secret-0123456789' },
      stderr: 'pipe',
    });
    const client = new Client({ name: 'stitch-test', version: '1.0.0' });
    await client.connect(transport);
    try {
      await checkClient(client);

      const waiting = (await client.callTool({ name: 'needs_a_human', arguments: {} })) as CallToolResult;
      const { runId, status } = waiting.structuredContent as { runId: string; status: string };
      expect(status).toBe('running');
      expect(textOf(waiting)).toContain(`Call get_run with {"runId": "${runId}"}`);
      const running = (await client.callTool({ name: 'get_run', arguments: { runId } })) as CallToolResult;
      expect(running.structuredContent).toMatchObject({ runId, status: 'running', nodes: { gate: 'waiting_for_user' } });
      const cancelled = (await client.callTool({ name: 'cancel_run', arguments: { runId } })) as CallToolResult;
      expect(cancelled.structuredContent).toMatchObject({ runId, status: 'cancelled' });
    } finally {
      await client.close();
    }
  });
});

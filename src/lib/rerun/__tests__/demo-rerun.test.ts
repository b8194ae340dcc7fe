/**
 * The demo (issue 13): run examples/video-factory.json (mock mode), change the render node's
 * settings, re-run — only the render (and the end) execute, every paid step is reused, and the run
 * shows what that saved.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { VisualGraph } from '@/types/stitch';
import { waitForRun } from '../../../../test/helpers';
import { startTestServer, type TestServer } from '../../../../test/server/http';
import { setEnv, tempDataDir } from '../../../../test/vendors/env';

let server: TestServer;
let restore: () => void;
const NO_KEYS = { ANTHROPIC_API_KEY: '', MINIMAX_API_KEY: '', ELEVENLABS_API_KEY: '', SHOTSTACK_API_KEY: '' };

beforeAll(async () => {
  restore = setEnv({ ...NO_KEYS, STITCH_DATA_DIR: tempDataDir() });
  server = await startTestServer({ env: NO_KEYS });
});
afterAll(async () => {
  await server?.close();
  restore?.();
});

it('video-factory: after the render settings change, a re-run executes only the render and the end, and shows the saving', async () => {
  const file = JSON.parse(readFileSync('examples/video-factory.json', 'utf8')) as { name: string; graph: VisualGraph; input: unknown };
  const created = await server.api('POST', '/api/flows', { name: file.name, graph: file.graph });
  expect(created.status).toBe(201);
  const started = await server.api('POST', `/api/flows/${created.body.id}/run`, { input: file.input });
  await waitForRun(started.body.runId, { timeoutMs: 60_000 });
  const first = (await server.api('GET', `/api/runs/${started.body.runId}`)).body;
  expect(first.status).toBe('completed');
  expect(first.cost).toMatchObject({ mock: true, savedUsd: 0 });
  expect(first.cost.usd).toBeGreaterThan(0);

  const graph = structuredClone(file.graph);
  const render = graph.nodes.find((n) => n.id === 'render')!;
  render.data = { ...render.data, config: { ...(render.data?.config ?? {}), background: '#112233' } };
  expect((await server.api('PUT', `/api/flows/${created.body.id}`, { graph })).status).toBe(200);

  const dry = await server.api('POST', `/api/runs/${first.id}/rerun`, { dryRun: true });
  expect(dry.body.execute).toEqual(['render']);
  const again = await server.api('POST', `/api/runs/${first.id}/rerun`, {});
  await waitForRun(again.body.runId, { timeoutMs: 60_000 });
  const second = (await server.api('GET', `/api/runs/${again.body.runId}`)).body;
  expect(second.status).toBe('completed');
  const executedWorkers = Object.entries(second.nodes as Record<string, { origin: string; nodeId: string }>)
    .filter(([, n]) => n.origin === 'executed' && ['script', 'scenes', 'video', 'voice', 'render'].includes(n.nodeId))
    .map(([id]) => id);
  expect(executedWorkers).toEqual(['render']);
  expect(second.nodes.end.origin).toBe('executed');
  // What the reused paid steps cost when they executed: everything but the render's share.
  expect(second.cost.savedUsd).toBeCloseTo(first.cost.usd - first.nodes.render.costUsd, 6);
  expect(second.cost.usd).toBeCloseTo(first.nodes.render.costUsd, 6);
});

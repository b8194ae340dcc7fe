/**
 * The credentials a result was made with are part of what a re-run matches, as they are part of the
 * step-cache key: a claude node run in mock mode is executed again (for real) once ANTHROPIC_API_KEY
 * is set in the vault, a real result is reused while the key stays, and the dry run predicts both.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { generateKeyText } from '@/lib/vault/cipher';
import { graph, waitForRun } from '../../../../test/helpers';
import { startTestServer, type TestServer } from '../../../../test/server/http';
import { setEnv } from '../../../../test/vendors/env';
import { ANTHROPIC_KEY, startFakeAnthropic, type FakeAnthropic } from '../../../../test/vendors/anthropic';

let server: TestServer;
let anthropic: FakeAnthropic;
let restore: () => void;

beforeAll(async () => {
  anthropic = await startFakeAnthropic();
  // No key in the environment (mock mode) until the vault has one; a real call goes to the fake.
  const env = { ANTHROPIC_API_KEY: '', ANTHROPIC_API_URL: anthropic.url };
  restore = setEnv(env);
  server = await startTestServer({ env: { ...env, STITCH_ENCRYPTION_KEY: generateKeyText() } });
});
afterAll(async () => {
  await server?.close();
  await anthropic?.close();
  restore?.();
});

async function view(runId: string) {
  await waitForRun(runId);
  return (await server.api('GET', `/api/runs/${runId}`)).body;
}
async function rerun(runId: string) {
  const dry = await server.api('POST', `/api/runs/${runId}/rerun`, { dryRun: true });
  const r = await server.api('POST', `/api/runs/${runId}/rerun`, {});
  expect(r.status, JSON.stringify(r.body)).toBe(202);
  return { prediction: dry.body, run: await view(r.body.runId) };
}

it('a mock result is never reused by a real run; a real one is, while the key stays', async () => {
  const flow = await server.api('POST', '/api/flows', {
    name: 'rerun-credentials',
    graph: graph([{ id: 'c', workerType: 'claude', config: { prompt: 'About {{topic}}' } }], []),
  });
  const started = await server.api('POST', `/api/flows/${flow.body.id}/run`, { input: { topic: 'otters' } });
  const mock = await view(started.body.runId);
  expect(mock.status).toBe('completed');
  expect(mock.cost.mock).toBe(true);
  expect(anthropic.requests).toHaveLength(0);

  expect((await server.api('PUT', '/api/credentials/ANTHROPIC_API_KEY', { value: ANTHROPIC_KEY })).status).toBe(201);
  const real = await rerun(mock.id);
  expect(real.prediction).toMatchObject({ execute: ['c'], reuse: [] });
  expect(real.run.nodes.c).toMatchObject({ origin: 'executed', output: { text: 'Hello from the fake.' } });
  expect(real.run.cost.mock).toBeUndefined();
  expect(anthropic.requests).toHaveLength(1);

  // The same key, the same work: reused.
  const again = await rerun(real.run.id);
  expect(again.prediction).toMatchObject({ execute: [], reuse: ['c'] });
  expect(again.run.nodes.c).toMatchObject({ origin: 'reused', output: { text: 'Hello from the fake.' } });
  expect(anthropic.requests).toHaveLength(1);

  // The key gone: the real result is not passed off as this (mock) run's either.
  expect((await server.api('DELETE', '/api/credentials/ANTHROPIC_API_KEY')).status).toBe(200);
  const back = await rerun(again.run.id);
  expect(back.prediction).toMatchObject({ execute: ['c'], reuse: [] });
  expect(back.run.nodes.c.origin).toBe('executed');
  expect(back.run.cost.mock).toBe(true);
});

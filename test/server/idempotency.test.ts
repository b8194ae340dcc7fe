/**
 * Idempotency-Key on `POST /api/flows/:id/run`: keys are scoped by the flow's canonical id, so the
 * same key and body sent to the upper-cased uuid of the flow give back the same run.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { graph } from '../helpers';
import { startTestServer, type TestServer } from './http';

let t: TestServer;
beforeAll(async () => {
  t = await startTestServer();
});
afterAll(() => t?.close());

it('one key, one run, however the URL spells the flow id', async () => {
  const flow = await t.api('POST', '/api/flows', { name: 'idem-case', graph: graph(['s:start', 'e:end'], [['s', 'e']]) });
  const id: string = flow.body.id;
  const headers = { 'idempotency-key': 'case-1' };
  const first = await t.api('POST', `/api/flows/${id}/run`, { input: { a: 1 } }, headers);
  expect(first.status).toBe(202);
  for (const spelling of [id.toUpperCase(), id.replace(/[a-f]/, (c) => c.toUpperCase())]) {
    const again = await t.api('POST', `/api/flows/${spelling}/run`, { input: { a: 1 } }, headers);
    expect(again.status, spelling).toBe(200);
    expect(again.body.runId).toBe(first.body.runId);
    // A different body under the same key is still a conflict, whatever the spelling.
    expect((await t.api('POST', `/api/flows/${spelling}/run`, { input: { a: 2 } }, headers)).status).toBe(409);
  }
  expect((await t.api('GET', `/api/runs?flowId=${id}&limit=50`)).body.runs).toHaveLength(1);
});

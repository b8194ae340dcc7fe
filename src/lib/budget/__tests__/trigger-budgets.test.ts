/**
 * Budgets on triggers: a webhook trigger's and a schedule's `budgetUsd` is stored, shown, changed
 * and cleared, and every run it starts carries it (stopping with budget_exceeded at the right
 * node); without one, the flow's default applies; a bad value is a 400 that stores nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signBody } from '@/server/routes/webhooks';
import { eventually, graph, registerMeteredWorker, waitForRun } from '../../../../test/helpers';
import { startTestServer, type TestServer } from '../../../../test/server/http';

let server: TestServer;
let metered: ReturnType<typeof registerMeteredWorker>;

beforeAll(async () => {
  metered = registerMeteredWorker('paid', 1); // $1 a call
  server = await startTestServer();
});
afterAll(async () => {
  await server?.close();
  metered?.restore();
});

const chain = graph(['a', 'b', 'c', 'd'].map((id) => ({ id, workerType: 'paid' })), [['a', 'b'], ['b', 'c'], ['c', 'd']]);
const ran = (runId: string) => metered.executed.filter((e) => e.startsWith(`${runId}/`)).map((e) => e.slice(runId.length + 1));

async function newFlow(body: Record<string, unknown> = {}) {
  const r = await server.api('POST', '/api/flows', { name: `trigger-budget-${Math.random()}`, graph: chain, ...body });
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  return r.body.id as string;
}

/** Deliver a signed webhook; resolves with the finished run (as the run API shows it). */
async function deliver(slug: string, secret: string, input: unknown = {}) {
  const body = JSON.stringify(input);
  const r = await server.api('POST', `/api/webhooks/${slug}`, body, { 'x-stitch-signature': signBody(secret, body) });
  expect(r.status, JSON.stringify(r.body)).toBe(202);
  await waitForRun(r.body.runId);
  return (await server.api('GET', `/api/runs/${r.body.runId}`)).body;
}

/** Bodies every budget write must refuse: negative, a string, non-finite (1e999 parses as Infinity), NaN spelled out. */
const BAD_BUDGETS = ['{"budgetUsd":-1}', '{"budgetUsd":"5"}', '{"budgetUsd":1e999}', '{"budgetUsd":"NaN"}'];

describe('webhook trigger budgets', () => {
  it("a trigger's budget stops the runs it starts at the right node; PATCH changes and clears it; the flow's default applies without one", async () => {
    const flowId = await newFlow({ budgetUsd: 1 });
    const created = await server.api('POST', `/api/flows/${flowId}/triggers`, { budgetUsd: 2 });
    expect(created.status).toBe(201);
    expect(created.body.budgetUsd).toBe(2);
    const { id, slug, secret } = created.body;

    const capped = await deliver(slug, secret);
    expect(capped.status).toBe('failed');
    expect(capped.error).toMatch(/^budget_exceeded: .*node c \(paid\)/);
    expect(ran(capped.id)).toEqual(['a', 'b']);
    expect(capped.budgetUsd).toBe(2);
    expect(capped.trigger).toMatchObject({ type: 'webhook', triggerId: id });

    const raised = await server.api('PATCH', `/api/flows/${flowId}/triggers/${id}`, { budgetUsd: 10 });
    expect(raised.status).toBe(200);
    expect(raised.body).toMatchObject({ id, slug, budgetUsd: 10 });
    const full = await deliver(slug, secret);
    expect(full.status).toBe('completed');
    expect(full.budgetUsd).toBe(10);

    // Cleared: the flow's default ($1) applies again.
    expect((await server.api('PATCH', `/api/flows/${flowId}/triggers/${id}`, { budgetUsd: null })).body.budgetUsd).toBeNull();
    const [listed] = (await server.api('GET', `/api/flows/${flowId}/triggers`)).body.triggers;
    expect(listed).toMatchObject({ id, budgetUsd: null });
    const byDefault = await deliver(slug, secret);
    expect(byDefault.budgetUsd).toBe(1);
    expect(ran(byDefault.id)).toEqual(['a']);
    expect(byDefault.error).toMatch(/^budget_exceeded: .*node b \(paid\)/);
  });

  it('refuses a bad budget with a 400 naming budgetUsd, and stores nothing', async () => {
    const flowId = await newFlow();
    const kept = (await server.api('POST', `/api/flows/${flowId}/triggers`, { budgetUsd: 3 })).body;
    for (const body of BAD_BUDGETS) {
      const create = await server.api('POST', `/api/flows/${flowId}/triggers`, body);
      expect(create.status, body).toBe(400);
      expect(create.body.error, body).toMatchObject({ code: 'validation_failed', details: [{ field: 'budgetUsd' }] });
      const patch = await server.api('PATCH', `/api/flows/${flowId}/triggers/${kept.id}`, body);
      expect(patch.status, body).toBe(400);
      expect(patch.body.error, body).toMatchObject({ code: 'validation_failed', details: [{ field: 'budgetUsd' }] });
    }
    expect((await server.api('PATCH', `/api/flows/${flowId}/triggers/${kept.id}`, {})).status).toBe(400); // nothing to change
    const misspelt = await server.api('POST', `/api/flows/${flowId}/triggers`, { budget_usd: 2 });
    expect(misspelt.status).toBe(400);
    expect(misspelt.body.error).toMatchObject({ code: 'validation_failed', details: [{ code: 'unrecognized_keys' }] });
    expect(misspelt.body.error.message).toContain('budget_usd');
    const { triggers } = (await server.api('GET', `/api/flows/${flowId}/triggers`)).body;
    expect(triggers.map((t: { id: string; budgetUsd: number | null }) => [t.id, t.budgetUsd])).toEqual([[kept.id, 3]]);
    const missing = await server.api('PATCH', `/api/flows/${flowId}/triggers/00000000-0000-4000-8000-000000000000`, { budgetUsd: 1 });
    expect(missing.status).toBe(404);
  });
});

describe('schedule budgets', () => {
  it('the runs a schedule starts carry its budget and stop at the right node', async () => {
    const flowId = await newFlow();
    // Every second, so the real queue fires it; paused as soon as it has started one run.
    const created = await server.api('POST', `/api/flows/${flowId}/schedules`, { cron: '* * * * * *', budgetUsd: 2 });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(created.body.budgetUsd).toBe(2);
    const scheduleId = created.body.id as string;
    const runId = await eventually(async () => (await server.api('GET', `/api/runs?flowId=${flowId}&limit=1`)).body.runs[0]?.id as string | undefined);
    expect((await server.api('PATCH', `/api/flows/${flowId}/schedules/${scheduleId}`, { enabled: false })).status).toBe(200);

    await waitForRun(runId);
    const run = (await server.api('GET', `/api/runs/${runId}`)).body;
    expect(run.trigger).toMatchObject({ type: 'schedule', scheduleId });
    expect(run.budgetUsd).toBe(2);
    expect(run.status).toBe('failed');
    expect(run.error).toMatch(/^budget_exceeded: .*node c \(paid\)/);
    expect(ran(runId)).toEqual(['a', 'b']);
  });

  it('a budget is changed, cleared and refused precisely; a refused write stores nothing', async () => {
    const flowId = await newFlow();
    const s = (await server.api('POST', `/api/flows/${flowId}/schedules`, { cron: '0 9 * * *', budgetUsd: 0.5 })).body;
    const path = `/api/flows/${flowId}/schedules/${s.id}`;
    for (const body of BAD_BUDGETS) {
      const create = await server.api('POST', `/api/flows/${flowId}/schedules`, body.replace('{', '{"cron":"0 9 * * *",'));
      expect(create.status, body).toBe(400);
      expect(create.body.error, body).toMatchObject({ code: 'validation_failed', details: [{ field: 'budgetUsd' }] });
      const patch = await server.api('PATCH', path, body.replace('{', '{"cron":"0 10 * * *",'));
      expect(patch.status, body).toBe(400);
      expect(patch.body.error, body).toMatchObject({ details: [{ field: 'budgetUsd' }] });
    }
    const listed = (await server.api('GET', `/api/flows/${flowId}/schedules`)).body.schedules;
    expect(listed.map((x: { id: string; cron: string; budgetUsd: number | null }) => [x.id, x.cron, x.budgetUsd])).toEqual([[s.id, '0 9 * * *', 0.5]]);

    // A budget change alone keeps the pending tick; null clears it.
    const raised = (await server.api('PATCH', path, { budgetUsd: 7 })).body;
    expect(raised).toMatchObject({ budgetUsd: 7, nextRunAt: s.nextRunAt });
    expect((await server.api('PATCH', path, { budgetUsd: null })).body.budgetUsd).toBeNull();
    expect((await server.api('PATCH', path, { enabled: false })).body.budgetUsd).toBeNull();
  });
});

describe('OpenAPI', () => {
  it('documents budgetUsd on triggers and schedules, and the trigger PATCH', async () => {
    const spec = (await server.api('GET', '/api/openapi.json')).body;
    for (const name of ['CreateTrigger', 'UpdateTrigger', 'Trigger', 'CreateSchedule', 'UpdateSchedule', 'Schedule']) {
      expect(spec.components.schemas[name].properties.budgetUsd, name).toMatchObject({ type: ['number', 'null'], minimum: 0 });
    }
    expect(spec.paths['/api/flows/{id}/triggers/{triggerId}'].patch).toBeDefined();
  });
});

/**
 * Budgets: once a run's spend reaches its budget, the next priced node does not start and the run
 * fails with budget_exceeded naming it; a flow's default applies; re-runs accept a budget; the
 * run view shows what reused nodes saved.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { graph, registerMeteredWorker, waitForRun } from '../../../../test/helpers';
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

const chain = (tag = 1) => graph(['a', 'b', 'c', 'd'].map((id) => ({ id, workerType: 'paid', config: { tag } })), [['a', 'b'], ['b', 'c'], ['c', 'd']]);
const ran = (runId: string) => metered.executed.filter((e) => e.startsWith(`${runId}/`)).map((e) => e.slice(runId.length + 1));

async function newFlow(body: Record<string, unknown>) {
  const r = await server.api('POST', '/api/flows', { name: `budget-${Math.random()}`, graph: chain(), ...body });
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  return r.body.id as string;
}

describe('budgetUsd', () => {
  it('stops a run at the first priced node once its spend reaches the budget', async () => {
    const flowId = await newFlow({});
    const r = await server.api('POST', `/api/flows/${flowId}/run`, { input: {}, budgetUsd: 2 });
    expect(r.status).toBe(202);
    await waitForRun(r.body.runId);
    const run = (await server.api('GET', `/api/runs/${r.body.runId}`)).body;
    expect(run.status).toBe('failed');
    expect(run.error).toMatch(/^budget_exceeded: .*node c \(paid\)/);
    expect(ran(run.id)).toEqual(['a', 'b']);
    expect(run.nodes.c.status).toBe('failed');
    expect(run.nodes.d?.status ?? 'never reached').not.toBe('completed');
    expect(run.cost.usd).toBe(2);
    expect(run.budgetUsd).toBe(2);
    const flows = (await server.api('GET', '/api/flows')).body.flows;
    expect(flows.find((f: { id: string }) => f.id === flowId).lastRun.costUsd).toBe(2);
    expect((await server.api('POST', `/api/flows/${flowId}/run`, { budgetUsd: -1 })).status).toBe(400);
  });

  it("applies the flow's default budget; a run's own budget wins; a re-run takes one too and shows what reuse saved", async () => {
    const flowId = await newFlow({ budgetUsd: 1 });
    const r = await server.api('POST', `/api/flows/${flowId}/run`, { input: {} });
    const limited = await waitForRun(r.body.runId);
    expect(limited.status).toBe('failed');
    expect(ran(limited.id)).toEqual(['a']);

    const full = await waitForRun((await server.api('POST', `/api/flows/${flowId}/run`, { input: {}, budgetUsd: 10 })).body.runId);
    expect(full.status).toBe('completed');
    // Change the last node: the re-run reuses three ($3 saved) and spends $1 within its budget.
    expect((await server.api('PUT', `/api/flows/${flowId}`, { graph: { ...chain(), nodes: chain().nodes.map((n) => (n.id === 'd' ? { ...n, data: { ...n.data, config: { tag: 2 } } } : n)) } })).status).toBe(200);
    const again = await server.api('POST', `/api/runs/${full.id}/rerun`, { budgetUsd: 1 });
    expect(again.status).toBe(202);
    await waitForRun(again.body.runId);
    const view = (await server.api('GET', `/api/runs/${again.body.runId}`)).body;
    expect(view.status).toBe('completed');
    expect(ran(view.id)).toEqual(['d']);
    expect(view.cost).toEqual({ usd: 1, savedUsd: 3 });
    expect(view.nodes.a).toMatchObject({ origin: 'reused', costUsd: 0 });

    // A flow's default can be removed.
    expect((await server.api('PUT', `/api/flows/${flowId}`, { graph: chain(), budgetUsd: null })).status).toBe(200);
    const free = await waitForRun((await server.api('POST', `/api/flows/${flowId}/run`, { input: { other: true } })).body.runId);
    expect(free.status).toBe('completed');
  });
});

describe('sub-flows', () => {
  const flowNode = (id: string, flowId: string) => ({ id, type: 'flow', config: { flowId } });

  it("a child run gets what is left of its parent's budget, and stops there", async () => {
    const childFlow = await newFlow({}); // a, b, c, d: $1 each
    const r = await server.api('POST', '/api/flows', { name: `parent-${Math.random()}`, graph: graph([flowNode('sub', childFlow)], []) });
    const started = await server.api('POST', `/api/flows/${r.body.id}/run`, { input: {}, budgetUsd: 2 });
    const parent = await waitForRun(started.body.runId);
    expect(parent.status).toBe('failed');
    const childId = parent.nodes.sub.metadata.childRunId as string;
    const child = (await server.api('GET', `/api/runs/${childId}`)).body;
    expect(child.budgetUsd).toBe(2);
    expect(child.error).toMatch(/^budget_exceeded: .*node c \(paid\)/);
    expect(ran(childId)).toEqual(['a', 'b']);
    expect(parent.error).toMatch(/budget_exceeded/);
    // The parent's spend includes its child's, on the flow node and in the run's total.
    const view = (await server.api('GET', `/api/runs/${parent.id}`)).body;
    expect(view.cost.usd).toBe(2);
    expect(view.nodes.sub.costUsd).toBe(2);
  });

  it("a parent's spend includes its children's: its next priced node stops with budget_exceeded", async () => {
    const childFlow = (await server.api('POST', '/api/flows', { name: `child-${Math.random()}`, graph: graph([{ id: 'x', workerType: 'paid' }], []) })).body.id;
    const parentGraph = graph([flowNode('sub', childFlow), { id: 'after', workerType: 'paid' }], [['sub', 'after']]);
    const flowId = (await server.api('POST', '/api/flows', { name: `parent-${Math.random()}`, graph: parentGraph, budgetUsd: 1 })).body.id;
    const started = await server.api('POST', `/api/flows/${flowId}/run`, { input: {} });
    const parent = await waitForRun(started.body.runId);
    expect(parent.status).toBe('failed');
    expect(parent.error).toMatch(/^budget_exceeded: the run spent \$1 of its \$1 budget; node after \(paid\)/);
    expect(ran(parent.id)).toEqual([]);
    expect(ran(parent.nodes.sub.metadata.childRunId as string)).toEqual(['x']);
    expect((await server.api('GET', '/api/flows')).body.flows.find((f: { id: string }) => f.id === flowId).lastRun.costUsd).toBe(1);
  });

  it("a child's own flow budget still caps it when it is smaller than what its parent has left", async () => {
    const childFlow = await newFlow({ budgetUsd: 1 });
    const r = await server.api('POST', '/api/flows', { name: `parent-${Math.random()}`, graph: graph([flowNode('sub', childFlow)], []) });
    const parent = await waitForRun((await server.api('POST', `/api/flows/${r.body.id}/run`, { input: {}, budgetUsd: 10 })).body.runId);
    const childId = parent.nodes.sub.metadata.childRunId as string;
    expect((await server.api('GET', `/api/runs/${childId}`)).body.budgetUsd).toBe(1);
    expect(ran(childId)).toEqual(['a']);
  });
});


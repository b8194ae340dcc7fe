/**
 * Re-runs over HTTP and the engine: nothing changed → nothing executes and the output is the same;
 * a changed setting re-executes exactly that node and what depends on it; `fromNode` forces;
 * splitter items are matched per item; answered UX gates are reused; the source run never changes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { VisualGraph } from '@/types/stitch';
import { reportUsage } from '@/lib/workers/utils';
import { graph, registerTestWorker, waitForRun } from '../../../../test/helpers';
import { startTestServer, type TestServer } from '../../../../test/server/http';

let server: TestServer;
/** Executions per `runId/instanceId`. */
const calls: string[] = [];

beforeAll(async () => {
  registerTestWorker(
    'step',
    class {
      async execute(runId: string, nodeId: string, config: { tag?: string }, input: Record<string, unknown>) {
        const { triggerCallback } = await import('@/lib/workers/utils');
        calls.push(`${runId}/${nodeId}`);
        await reportUsage(runId, nodeId, [{ unit: 'calls', quantity: 1 }]);
        await triggerCallback(runId, nodeId, { status: 'completed', output: { ...input, [nodeId.replace(/\[.*$/, '')]: config.tag ?? 'x', item: input.item } });
      }
    },
  );
  server = await startTestServer({ env: { STITCH_PRICES: '' } });
});
afterAll(() => server?.close());

const executedIn = (runId: string) => calls.filter((c) => c.startsWith(`${runId}/`)).map((c) => c.slice(runId.length + 1)).sort();

async function createFlow(g: VisualGraph): Promise<string> {
  const r = await server.api('POST', '/api/flows', { name: `rerun-${Math.random()}`, graph: g });
  expect(r.status).toBe(201);
  return r.body.id;
}
async function runFlow(flowId: string, input: unknown) {
  const r = await server.api('POST', `/api/flows/${flowId}/run`, { input });
  expect(r.status).toBe(202);
  await waitForRun(r.body.runId);
  return (await server.api('GET', `/api/runs/${r.body.runId}`)).body;
}
async function rerun(runId: string, body: Record<string, unknown> = {}) {
  const r = await server.api('POST', `/api/runs/${runId}/rerun`, body);
  expect(r.status, JSON.stringify(r.body)).toBe(202);
  expect(r.body.rerunOf).toBe(runId);
  await waitForRun(r.body.runId);
  return (await server.api('GET', `/api/runs/${r.body.runId}`)).body;
}

const chain = () =>
  graph(
    [
      { id: 'a', workerType: 'step', config: { tag: 'a1' } },
      { id: 'b', workerType: 'step', config: { tag: 'b1' } },
      { id: 'c', workerType: 'step', config: { tag: 'c1' } },
      { id: 'side', workerType: 'step', config: { tag: 's1' } },
      { id: 'end', type: 'end' },
    ],
    [['a', 'b'], ['b', 'c'], ['a', 'side'], ['c', 'end'], ['side', 'end']],
  );

describe('POST /api/runs/:runId/rerun', () => {
  it('with nothing changed executes nothing, reproduces the output and says where each output came from', async () => {
    const flowId = await createFlow(chain());
    const first = await runFlow(flowId, { topic: 'otters' });
    expect(executedIn(first.id)).toEqual(['a', 'b', 'c', 'side']);

    const dry = await server.api('POST', `/api/runs/${first.id}/rerun`, { dryRun: true });
    expect(dry.status).toBe(200);
    expect(dry.body).toMatchObject({ dryRun: true, execute: [] });
    expect(dry.body.reuse.sort()).toEqual(['a', 'b', 'c', 'side']);

    const again = await rerun(first.id);
    expect(again.status).toBe('completed');
    expect(executedIn(again.id)).toEqual([]);
    expect(again.output).toEqual(first.output);
    expect(again.rerunOf).toBe(first.id);
    for (const id of ['a', 'b', 'c', 'side']) {
      expect(again.nodes[id]).toMatchObject({ origin: 'reused', reusedFrom: { runId: first.id, instanceId: id }, costUsd: 0 });
    }
    expect(first.nodes.a.origin).toBe('executed');
    // The source run is never changed.
    const source = (await server.api('GET', `/api/runs/${first.id}`)).body;
    expect(source).toEqual(first);
  });

  it('after a setting changes, re-executes exactly that node and its dependents', async () => {
    const flowId = await createFlow(chain());
    const first = await runFlow(flowId, { topic: 'otters' });
    const g = chain();
    g.nodes[1].data!.config = { tag: 'b2' };
    expect((await server.api('PUT', `/api/flows/${flowId}`, { graph: g })).status).toBe(200);

    const dry = await server.api('POST', `/api/runs/${first.id}/rerun`, { dryRun: true });
    expect(dry.body).toMatchObject({ execute: ['b', 'c'], reuse: ['a', 'side'] });
    const again = await rerun(first.id);
    expect(executedIn(again.id)).toEqual(['b', 'c']);
    expect(again.output.b).toBe('b2');
    expect(again.nodes.b.origin).toBe('executed');
    expect(again.nodes.side.origin).toBe('reused');

    // `version: "same"` re-runs the source's version: nothing changed there.
    const same = await rerun(first.id, { version: 'same' });
    expect(executedIn(same.id)).toEqual([]);
    expect(same.output).toEqual(first.output);
  });

  it('fromNode forces that node and everything downstream of it', async () => {
    const flowId = await createFlow(chain());
    const first = await runFlow(flowId, {});
    const again = await rerun(first.id, { fromNode: 'b' });
    expect(executedIn(again.id)).toEqual(['b', 'c']);
    expect(again.output).toEqual(first.output);
    const bad = await server.api('POST', `/api/runs/${first.id}/rerun`, { fromNode: 'bb' });
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toMatch(/did you mean "b"/);
    expect((await server.api('POST', `/api/runs/00000000-0000-0000-0000-000000000000/rerun`, {})).status).toBe(404);
    expect((await server.api('POST', `/api/runs/${first.id}/rerun`, { version: 'newest' })).status).toBe(400);
  });

  it('a new input re-executes what depends on it; splitter items are matched per item', async () => {
    const g = graph(
      [
        { id: 'split', type: 'splitter', config: { arrayPath: 'items' } },
        { id: 'each', workerType: 'step', config: { tag: 'e' } },
        { id: 'collect', type: 'collector' },
        { id: 'after', workerType: 'step', config: { tag: 'z' } },
      ],
      [['split', 'each'], ['each', 'collect'], ['collect', 'after']],
    );
    const flowId = await createFlow(g);
    const first = await runFlow(flowId, { items: [{ item: 1 }, { item: 2 }, { item: 3 }] });
    expect(executedIn(first.id)).toEqual(['after', 'each[0]', 'each[1]', 'each[2]']);
    // Item 1 changes, item 3 moves to index 1 and a new one joins: only what is new executes.
    const again = await rerun(first.id, { input: { items: [{ item: 1 }, { item: 3 }, { item: 4 }] } });
    expect(executedIn(again.id)).toEqual(['after', 'each[2]']);
    expect(again.nodes['each[1]']).toMatchObject({ origin: 'reused', reusedFrom: { runId: first.id, instanceId: 'each[2]' } });
    expect(again.nodes.collect.output.map((o: { item: number }) => o.item)).toEqual([1, 3, 4]);

    // Same items, only the node after the collector changed: the whole scope is reused at once.
    g.nodes[3].data!.config = { tag: 'z2' };
    expect((await server.api('PUT', `/api/flows/${flowId}`, { graph: g })).status).toBe(200);
    const third = await rerun(first.id);
    expect(executedIn(third.id)).toEqual(['after']);
    expect(third.nodes.split.origin).toBe('reused'); // the scope shortcut, not per-item hops
    expect(third.nodes.collect).toMatchObject({ origin: 'reused', output: first.nodes.collect.output });
    for (const id of ['each[0]', 'each[1]', 'each[2]', 'split[0]']) expect(third.nodes[id]).toMatchObject({ status: 'completed', origin: 'reused' });
    expect(third.nodes['each[2]'].reusedFrom).toEqual({ runId: first.id, instanceId: 'each[2]' });
    expect(third.output).toMatchObject({ after: 'z2' });
  });

  it('reuses an answered UX gate with its answer, unless forced', async () => {
    const g = graph([{ id: 'ask', type: 'ux', config: { prompt: 'Approve?' } }, { id: 'do', workerType: 'step', config: { tag: 'd' } }], [['ask', 'do']]);
    const flowId = await createFlow(g);
    const r = await server.api('POST', `/api/flows/${flowId}/run`, { input: { q: 1 } });
    await waitForRun(r.body.runId, { status: 'running' });
    const waiting = async (runId: string) => {
      for (;;) {
        const run = (await server.api('GET', `/api/runs/${runId}`)).body;
        if (run.waitingFor.length) return run;
        await new Promise((res) => setTimeout(res, 25));
      }
    };
    await waiting(r.body.runId);
    expect((await server.api('POST', `/api/stitch/complete/${r.body.runId}/ask`, { input: { approved: true } })).status).toBe(200);
    const first = await waitForRun(r.body.runId);
    const again = await rerun(first.id);
    expect(again.nodes.ask).toMatchObject({ origin: 'reused', output: { q: 1, approved: true } });
    expect(executedIn(again.id)).toEqual([]);
    const forced = await server.api('POST', `/api/runs/${first.id}/rerun`, { fromNode: 'ask' });
    const parked = await waiting(forced.body.runId);
    expect(parked.waitingFor.map((w: { instanceId: string }) => w.instanceId)).toEqual(['ask']);
  });

  it("refuses a re-run of a deleted flow's run (404 not_found, as starting the flow does), dry run included", async () => {
    const flowId = await createFlow(chain());
    const first = await runFlow(flowId, { topic: 'gone' });
    expect((await server.api('DELETE', `/api/flows/${flowId}`)).status).toBe(200);
    expect((await server.api('POST', `/api/flows/${flowId}/run`, { input: {} })).body.error.code).toBe('not_found');
    for (const body of [{}, { version: 'same' }, { dryRun: true }]) {
      const r = await server.api('POST', `/api/runs/${first.id}/rerun`, body);
      expect(r.status, JSON.stringify(body)).toBe(404);
      expect(r.body.error.code).toBe('not_found');
    }
    const runs = (await server.api('GET', `/api/runs?flowId=${flowId}&limit=50`)).body.runs;
    expect(runs.map((r: { id: string }) => r.id)).toEqual([first.id]);
  });
});

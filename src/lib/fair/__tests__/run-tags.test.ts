/**
 * Run tags and priority on the one start path: given by the API (both run routes), a webhook
 * trigger's mapping over the payload, a schedule; inherited by sub-flows and re-runs; shown by the
 * run and list APIs; a bad tag or priority is a precise 400 that starts nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signBody } from '@/server/routes/webhooks';
import { getPool } from '@/lib/db/pool';
import { eventually, graph, waitForRun } from '../../../../test/helpers';
import { startTestServer, type TestServer } from '../../../../test/server/http';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server?.close();
});

const simple = graph(['in:start', 'a:transform', 'out:end'], [['in', 'a'], ['a', 'out']]);

async function newFlow(g = simple) {
  const r = await server.api('POST', '/api/flows', { name: `tags-${Math.random()}`, graph: g });
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  return r.body.id as string;
}

const runCount = async () => (await getPool().query<{ n: number }>('SELECT count(*)::int AS n FROM stitch_runs')).rows[0].n;

describe('run tags and priority', () => {
  it('a start with tags and priority shows them in the run and in the list, on both run routes', async () => {
    const flowId = await newFlow();
    for (const route of ['flows', 'canvas']) {
      const started = await server.api('POST', `/api/${route}/${flowId}/run`, { input: { x: 1 }, tags: { customer: 'acme', plan: 'pro-2' }, priority: 10 });
      expect(started.status, JSON.stringify(started.body)).toBe(202);
      await waitForRun(started.body.runId);
      const run = (await server.api('GET', `/api/runs/${started.body.runId}`)).body;
      expect(run).toMatchObject({ status: 'completed', tags: { customer: 'acme', plan: 'pro-2' }, priority: 10 });
    }
    const plain = await server.api('POST', `/api/flows/${flowId}/run`, { input: {} });
    const list = (await server.api('GET', `/api/runs?flowId=${flowId}`)).body.runs;
    expect(list.map((r: { tags: unknown; priority: number }) => [r.tags, r.priority])).toEqual([
      [{}, 0],
      [{ customer: 'acme', plan: 'pro-2' }, 10],
      [{ customer: 'acme', plan: 'pro-2' }, 10],
    ]);
    expect(list[0].id).toBe(plain.body.runId);
  });

  it('refuses bad tags and priorities with a precise 400 and starts nothing', async () => {
    const flowId = await newFlow();
    const before = await runCount();
    const tooMany = Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`t${i}`, 'v']));
    const cases: Array<[unknown, string, string]> = [
      [{ tags: { customer: 7 } }, 'tags.customer', ''],
      [{ tags: ['a'] }, 'tags', ''],
      [{ tags: { 'no spaces': 'x' } }, 'tags.no spaces', 'invalid_tag_name'],
      [{ tags: { 'a.b': 'x' } }, 'tags.a.b', 'invalid_tag_name'],
      [{ tags: { empty: '' } }, 'tags.empty', 'invalid_tag_value'],
      [{ tags: { long: 'x'.repeat(257) } }, 'tags.long', 'invalid_tag_value'],
      [{ tags: { nl: 'a\nb' } }, 'tags.nl', 'invalid_tag_value'],
      [{ tags: tooMany }, 'tags', 'too_many_tags'],
      [{ priority: 101 }, 'priority', ''],
      [{ priority: -1 }, 'priority', ''],
      [{ priority: 1.5 }, 'priority', ''],
      [{ priority: '5' }, 'priority', ''],
    ];
    for (const [body, field, code] of cases) {
      const r = await server.api('POST', `/api/flows/${flowId}/run`, { input: {}, ...(body as object) });
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.body.error.code).toBe('validation_failed');
      expect(r.body.error.details[0], JSON.stringify(body)).toMatchObject({ field, ...(code ? { code } : {}) });
      expect(r.body.error.message).toContain(field);
    }
    expect(await runCount()).toBe(before);
  });

  it('a sub-flow run inherits its parent run’s tags and priority; a re-run its source’s unless it gives its own', async () => {
    const childFlow = await newFlow();
    const parentFlow = await newFlow(graph(['in:start', { id: 'sub', type: 'flow', config: { flowId: childFlow } }, 'out:end'], [['in', 'sub'], ['sub', 'out']]));
    const started = await server.api('POST', `/api/flows/${parentFlow}/run`, { input: {}, tags: { customer: 'acme' }, priority: 5 });
    await waitForRun(started.body.runId);
    const children = (await server.api('GET', `/api/runs?flowId=${childFlow}`)).body.runs;
    expect(children).toHaveLength(1);
    expect(children[0]).toMatchObject({ parentRunId: started.body.runId, tags: { customer: 'acme' }, priority: 5 });

    const again = await server.api('POST', `/api/runs/${started.body.runId}/rerun`, {});
    expect(again.status, JSON.stringify(again.body)).toBe(202);
    expect((await waitForRun(again.body.runId)).tags).toEqual({ customer: 'acme' });
    expect((await server.api('GET', `/api/runs/${again.body.runId}`)).body.priority).toBe(5);
    const other = await server.api('POST', `/api/runs/${started.body.runId}/rerun`, { tags: { customer: 'globex' }, priority: 3 });
    expect(await waitForRun(other.body.runId)).toMatchObject({ tags: { customer: 'globex' }, priority: 3 });
  });

  it("a webhook trigger's tags are templates over the payload; its priority goes to every run; PATCH changes them", async () => {
    const flowId = await newFlow();
    const created = await server.api('POST', `/api/flows/${flowId}/triggers`, { tags: { customer: '{{account.id}}', source: 'github', missing: '{{nope}}' }, priority: 7 });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(created.body).toMatchObject({ tags: { customer: '{{account.id}}', source: 'github' }, priority: 7 });
    const deliver = async (payload: unknown) => {
      const body = JSON.stringify(payload);
      const r = await server.api('POST', `/api/webhooks/${created.body.slug}`, body, { 'x-stitch-signature': signBody(created.body.secret, body) });
      return r;
    };
    const r = await deliver({ account: { id: 42 } });
    expect(r.status, JSON.stringify(r.body)).toBe(202);
    expect(await waitForRun(r.body.runId)).toMatchObject({ tags: { customer: '42', source: 'github' }, priority: 7 });

    // A payload whose mapped value is no valid tag is refused precisely (and starts nothing).
    const bad = await deliver({ account: { id: 'x'.repeat(300) } });
    expect(bad.status).toBe(400);
    expect(bad.body.error.details[0]).toMatchObject({ field: 'tags.customer', code: 'invalid_tag_value' });

    const patched = await server.api('PATCH', `/api/flows/${flowId}/triggers/${created.body.id}`, { tags: { tenant: 'org-{{org}}' }, priority: 1 });
    expect(patched.status, JSON.stringify(patched.body)).toBe(200);
    expect(patched.body).toMatchObject({ tags: { tenant: 'org-{{org}}' }, priority: 1, budgetUsd: null });
    const r2 = await deliver({ org: 'initech' });
    expect(await waitForRun(r2.body.runId)).toMatchObject({ tags: { tenant: 'org-initech' }, priority: 1 });

    const refused = await server.api('POST', `/api/flows/${flowId}/triggers`, { tags: { 'bad name': 'x' } });
    expect(refused.status).toBe(400);
    expect(refused.body.error.details[0]).toMatchObject({ field: 'tags.bad name' });
  });

  it('the runs a schedule starts carry its tags and priority', async () => {
    const flowId = await newFlow();
    const created = await server.api('POST', `/api/flows/${flowId}/schedules`, { cron: '* * * * * *', tags: { customer: 'acme' }, priority: 2 });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(created.body).toMatchObject({ tags: { customer: 'acme' }, priority: 2 });
    const runId = await eventually(async () => (await server.api('GET', `/api/runs?flowId=${flowId}&limit=1`)).body.runs[0]?.id as string | undefined);
    expect((await server.api('PATCH', `/api/flows/${flowId}/schedules/${created.body.id}`, { enabled: false, priority: 4 })).body).toMatchObject({ priority: 4, tags: { customer: 'acme' } });
    expect(await waitForRun(runId)).toMatchObject({ tags: { customer: 'acme' }, priority: 2 });
    const refused = await server.api('POST', `/api/flows/${flowId}/schedules`, { cron: '0 9 * * *', priority: 1000 });
    expect(refused.status).toBe(400);
    expect(refused.body.error.details[0]).toMatchObject({ field: 'priority' });
  });

  it('orders queued work by priority: a run of priority p is due p minutes earlier; priority 0 is due now', async () => {
    await server.close(); // this test needs a Stitch without a runner (one per process); the next tests get a new one
    const idle = await startTestServer({ runner: false }); // nothing takes the jobs: the queue is inspected as placed
    try {
      const f = (await idle.api('POST', '/api/flows', { name: 'prio', graph: simple })).body.id as string;
      const start = async (priority?: number) => (await idle.api('POST', `/api/flows/${f}/run`, { input: {}, priority })).body.runId as string;
      const low = [await start(), await start(0), await start(1)];
      const high = await start(10);
      const { rows } = await getPool().query<{ r: string; ahead_s: number }>(
        `SELECT j.payload ->> 'r' AS r, extract(epoch FROM j.created_at - j.run_at)::float AS ahead_s
         FROM graphile_worker._private_jobs j JOIN graphile_worker._private_tasks t ON t.id = j.task_id
         WHERE t.identifier = 'stitch_execute' ORDER BY j.priority, j.run_at, j.id`,
      );
      expect(rows.map((x) => x.r)).toEqual([high, low[2], low[0], low[1]]);
      expect(rows[0].ahead_s).toBeGreaterThan(599);
      expect(rows[1].ahead_s).toBeGreaterThan(59);
      expect(Math.abs(rows[2].ahead_s)).toBeLessThan(5);
    } finally {
      await idle.close();
      server = await startTestServer();
    }
  });

  it('documents tags and priority in the OpenAPI document', async () => {
    const spec = (await server.api('GET', '/api/openapi.json')).body;
    expect(spec.components.schemas.RunRequest.properties.priority).toMatchObject({ type: 'integer', minimum: 0, maximum: 100 });
    expect(spec.components.schemas.RunRequest.properties.tags).toBeDefined();
    for (const name of ['RunSummary', 'CreateTrigger', 'Trigger', 'UpdateTrigger', 'CreateSchedule', 'Schedule']) {
      expect(spec.components.schemas[name].properties.tags, name).toBeDefined();
    }
  });
});

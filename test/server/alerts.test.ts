/**
 * Flow alerts end to end, to a receiver on loopback (STITCH_WEBHOOK_ALLOW_PRIVATE=1): signed like
 * the http-webhook worker's calls, Slack's shape on request, a storm coalesced into messages whose
 * counts add up, a 500 retried by the queue, run.slower_than, budget_exceeded, the test message,
 * bad alerts refused, and nothing written for a flow without alerts.
 */
import { timingSafeEqual } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NonRetriableError } from '@/lib/errors';
import { getPool } from '@/lib/db/pool';
import { getWebhookSigningSecret, signWebhook } from '@/lib/workers/outbound-http';
import { checkAlerts } from '@/lib/alerts/spec';
import { eventually, graph, registerMeteredWorker, registerTestWorker, waitForRun } from '../helpers';
import { startTestServer, type TestServer } from './http';
import { startVendorServer, type Recorded, type VendorServer } from '../vendors/server';

let t: TestServer;
let receiver: VendorServer;
/** Per path: status codes to answer in turn (then 200). */
const answers: Record<string, number[]> = {};
let metered: ReturnType<typeof registerMeteredWorker>;

beforeAll(async () => {
  registerTestWorker(
    'alert-fail',
    class {
      async execute() {
        throw new NonRetriableError('the vendor said no');
      }
    },
  );
  metered = registerMeteredWorker('alert-priced', 1);
  receiver = await startVendorServer((req: Recorded, res: ServerResponse) => {
    const status = answers[req.path]?.shift() ?? 200;
    res.writeHead(status, { 'content-type': 'text/plain' }).end(status === 200 ? 'ok' : 'receiver down');
  });
  // A window no test outlasts: a second message within one only comes when a test ends the window.
  t = await startTestServer({ env: { STITCH_WEBHOOK_ALLOW_PRIVATE: '1', STITCH_ALERT_WINDOW_SECONDS: '3600', STITCH_MAX_ALERTS_PER_FLOW: '3' } });
});

afterAll(async () => {
  await t?.close();
  await receiver?.close();
  metered?.restore();
});

const failing = graph(['s:start', 'x:alert-fail', 'e:end'], [['s', 'x'], ['x', 'e']]);
const at = (path: string) => receiver.requests.filter((r) => r.path === path);

async function flowWith(name: string, alerts: unknown[], g = failing, extra: Record<string, unknown> = {}): Promise<string> {
  const res = await t.api('POST', '/api/flows', { name, graph: g, alerts, ...extra });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.id;
}

async function run(flowId: string): Promise<string> {
  const res = await t.api('POST', `/api/flows/${flowId}/run`, { input: {} });
  expect(res.status).toBe(202);
  return res.body.runId;
}

async function verifySignature(req: Recorded): Promise<boolean> {
  const expected = Buffer.from(signWebhook(await getWebhookSigningSecret(), req.headers['x-stitch-timestamp'] as string, JSON.stringify(req.body)));
  const got = Buffer.from(String(req.headers['x-stitch-signature']));
  return got.length === expected.length && timingSafeEqual(got, expected);
}

describe('alerts', () => {
  it('a failed run POSTs one signed JSON message to its alert', async () => {
    const flowId = await flowWith('alert json', [{ on: 'run.failed', to: `${receiver.url}/json` }]);
    expect((await t.api('GET', `/api/flows/${flowId}`)).body.alerts).toEqual([{ on: 'run.failed', to: `${receiver.url}/json` }]);
    const runId = await run(flowId);
    await waitForRun(runId);
    const [message] = await eventually(async () => at('/json').length > 0 && at('/json'));
    expect(await verifySignature(message)).toBe(true);
    expect(message.headers['x-stitch-event']).toBe('alert');
    expect(message.body).toMatchObject({
      type: 'stitch.alert',
      event: 'run.failed',
      test: false,
      count: 1,
      flow: { id: flowId, name: 'alert json' },
      latest: { runId, url: expect.stringContaining(`/#/runs/${runId}`) },
    });
    expect(message.body.latest.error).toContain('the vendor said no');
    expect(message.body.text).toContain('a run failed in flow "alert json"');
    const state = await eventually(async () => {
      const alerts = (await t.api('GET', `/api/flows/${flowId}/alerts`)).body.alerts;
      return alerts[0].lastResult === '200' && alerts;
    });
    expect(state[0]).toMatchObject({ pending: 0, lastResult: '200' });
  });

  it('speaks Slack’s incoming-webhook shape when asked (node.failed)', async () => {
    const flowId = await flowWith('alert slack', [{ on: 'node.failed', to: `${receiver.url}/slack`, format: 'slack' }]);
    const runId = await run(flowId);
    await waitForRun(runId);
    const [message] = await eventually(async () => at('/slack').length > 0 && at('/slack'));
    expect(await verifySignature(message)).toBe(true);
    expect(Object.keys(message.body).sort()).toEqual(['blocks', 'text']);
    expect(message.body.text).toMatch(/^Stitch: a node failed in flow "alert slack"\. at node x|a node failed in flow "alert slack" at node x/);
    expect(message.body.text).toContain(`/#/runs/${runId}?node=x|Open the run>`);
    expect(message.body.blocks[0]).toMatchObject({ type: 'section', text: { type: 'mrkdwn' } });
  });

  it('coalesces a storm: far fewer messages than failures, counts adding up to every failure', async () => {
    const flowId = await flowWith('alert storm', [{ on: 'run.failed', to: `${receiver.url}/storm` }]);
    const runs = await Promise.all(Array.from({ length: 30 }, () => run(flowId)));
    for (const id of runs) await waitForRun(id);
    // Every failure is counted, delivered or pending (the window holds the rest back).
    // The pending count first, then the receiver's messages: a message is received before its
    // delivery is settled, so this order never sees a settled count without its message.
    const counted = async () => {
      const pending = (await t.api('GET', `/api/flows/${flowId}/alerts`)).body.alerts[0].pending as number;
      const messages = at('/storm');
      return { delivered: messages.reduce((n, r) => n + r.body.count, 0), pending, messages: messages.length };
    };
    const first = await eventually(async () => {
      const c = await counted();
      return c.messages === 1 && c.delivered + c.pending === 30 && c;
    });
    expect(first.delivered, JSON.stringify(at('/storm').map((r) => r.body))).toBeGreaterThan(0);
    if (first.pending > 0) {
      // End the window as time would: the held-back failures go as one more message.
      await getPool().query(`UPDATE stitch_alert_state SET last_sent_at = now() - interval '2 hours' WHERE flow_id = $1`, [flowId]);
      await getPool().query(`UPDATE graphile_worker._private_jobs SET run_at = now() WHERE key = stitch_alert_job_key($1, 'run.failed', $2)`, [flowId, `${receiver.url}/storm`]);
      await eventually(async () => (await counted()).messages === 2);
    }
    const last = await counted();
    expect(last).toMatchObject({ delivered: 30, pending: 0 });
    expect(last.messages).toBeLessThanOrEqual(2);
    expect(at('/storm').at(-1)!.body.text).toMatch(/runs failed|a run failed/);
  });

  it('a receiver answering 500 gets the same message again later (the queue retries)', async () => {
    answers['/flaky'] = [500];
    const flowId = await flowWith('alert retry', [{ on: 'run.failed', to: `${receiver.url}/flaky` }]);
    await waitForRun(await run(flowId));
    const [first, second] = await eventually(async () => at('/flaky').length >= 2 && at('/flaky'), 30_000);
    expect(second.headers['x-stitch-delivery']).toBe(first.headers['x-stitch-delivery']);
    expect(second.body).toEqual({ ...first.body });
    const alerts = await eventually(async () => {
      const a = (await t.api('GET', `/api/flows/${flowId}/alerts`)).body.alerts;
      return a[0].lastResult === '200' && a;
    });
    expect(alerts[0].pending).toBe(0);
  });

  it('run.slower_than fires for a run still open after its seconds', async () => {
    const gate = graph([{ id: 'gate', type: 'ux', config: { prompt: 'wait' } }], []);
    const flowId = await flowWith('alert slow', [{ on: 'run.slower_than', seconds: 1, to: `${receiver.url}/slow` }], gate);
    const runId = await run(flowId);
    const [message] = await eventually(async () => at('/slow').length > 0 && at('/slow'));
    expect(message.body).toMatchObject({ event: 'run.slower_than', count: 1, latest: { runId, seconds: 1 } });
    expect(message.body.text).toContain('slower than its threshold (1 s)');
    await t.api('POST', `/api/runs/${runId}/cancel`);
  });

  it('budget_exceeded fires when a run stops at its budget', async () => {
    const priced = graph(['s:start', 'p:alert-priced', 'q:alert-priced'], [['s', 'p'], ['p', 'q']]);
    const flowId = await flowWith('alert budget', [{ on: 'budget_exceeded', to: `${receiver.url}/budget` }], priced, { budgetUsd: 0.5 });
    const done = await waitForRun(await run(flowId));
    expect(done.error).toContain('budget_exceeded');
    const [message] = await eventually(async () => at('/budget').length > 0 && at('/budget'));
    expect(message.body).toMatchObject({ event: 'budget_exceeded', count: 1 });
  });

  it('a test message from the flow page, its outcome readable', async () => {
    const flowId = await flowWith('alert test', [{ on: 'run.failed', to: `${receiver.url}/test-json` }, { on: 'node.failed', to: `${receiver.url}/test-slack`, format: 'slack' }]);
    expect((await t.api('POST', `/api/flows/${flowId}/alerts/test`, { index: 5 })).status).toBe(400);
    const res = await t.api('POST', `/api/flows/${flowId}/alerts/test`);
    expect(res).toMatchObject({ status: 202, body: { queued: 2 } });
    const [json] = await eventually(async () => at('/test-json').length > 0 && at('/test-json'));
    expect(json.body).toMatchObject({ test: true, count: 0, event: 'run.failed' });
    expect(await verifySignature(json)).toBe(true);
    const [slack] = await eventually(async () => at('/test-slack').length > 0 && at('/test-slack'));
    expect(slack.body.text).toContain('test alert for flow "alert test"');
    const alerts = await eventually(async () => {
      const a = (await t.api('GET', `/api/flows/${flowId}/alerts`)).body.alerts;
      return a.every((x: { lastResult: string }) => x.lastResult === 'test: 200') && a;
    });
    expect(alerts).toHaveLength(2);
  });

  it('refuses bad alerts with a precise 400 and changes nothing', async () => {
    const flowId = await flowWith('alert checks', [{ on: 'run.failed', to: `${receiver.url}/x` }]);
    const bad: Array<[unknown, RegExp]> = [
      [[{ on: 'run.exploded', to: `${receiver.url}/x` }], /alerts\.0\.on|must be one of/],
      [[{ on: 'run.slower_than', to: `${receiver.url}/x` }], /seconds is required/],
      [[{ on: 'run.failed', to: `${receiver.url}/x`, seconds: 5 }], /run\.slower_than alerts only/],
      [[{ on: 'run.failed', to: 'ftp://example.com/x' }], /must be http\(s\)/],
      [[{ on: 'run.failed', to: 'http://user:pw@example.com/x' }], /credentials/],
      [[{ on: 'run.failed', to: `${receiver.url}/a` }, { on: 'run.failed', to: `${receiver.url}/a` }], /repeats/],
      [Array.from({ length: 4 }, (_, i) => ({ on: 'run.failed', to: `${receiver.url}/${i}` })), /at most 3 alerts/],
      [[{ on: 'run.failed', to: `${receiver.url}/x`, colour: 'red' }], /colour|Unrecognized/i],
    ];
    for (const [alerts, message] of bad) {
      const res = await t.api('PUT', `/api/flows/${flowId}/alerts`, { alerts });
      expect(res.status, JSON.stringify(alerts)).toBe(400);
      expect(res.body.error.code).toBe('validation_failed');
      expect(JSON.stringify(res.body.error), JSON.stringify(alerts)).toMatch(message);
    }
    expect((await t.api('GET', `/api/flows/${flowId}`)).body.alerts).toEqual([{ on: 'run.failed', to: `${receiver.url}/x` }]);
    expect((await t.api('PUT', `/api/flows/00000000-0000-4000-8000-000000000000/alerts`, { alerts: [] })).status).toBe(404);
    // Without STITCH_WEBHOOK_ALLOW_PRIVATE, a private or loopback literal is refused at save.
    expect(() => checkAlerts([{ on: 'run.failed', to: 'http://127.0.0.1:9/x' }], { allowPrivate: false, maxPerFlow: 10 })).toThrow(/loopback/);
    expect(() => checkAlerts([{ on: 'run.failed', to: 'http://169.254.169.254/x' }], { allowPrivate: false, maxPerFlow: 10 })).toThrow(/link-local/);
  });

  it('a flow without alerts writes no alert state and places no alert job', async () => {
    const flowId = await flowWith('no alerts', []);
    await waitForRun(await run(flowId));
    const state = await getPool().query('SELECT count(*)::int AS n FROM stitch_alert_state WHERE flow_id = $1', [flowId]);
    const jobs = await getPool().query(`SELECT count(*)::int AS n FROM graphile_worker._private_jobs j JOIN graphile_worker._private_tasks k ON k.id = j.task_id
       WHERE k.identifier LIKE 'stitch_alert%' AND j.payload ->> 'f' = $1`, [flowId]);
    expect([state.rows[0].n, jobs.rows[0].n]).toEqual([0, 0]);
  });
});

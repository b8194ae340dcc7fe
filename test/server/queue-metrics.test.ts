/**
 * Queue depth and waiting time per flow and integration (issue 24.5): with no runner taking jobs,
 * a started run's first node waits in the queue and GET /metrics says so, under its flow and its
 * node type; a run of another flow is its own series.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { graph } from '../helpers';
import { startTestServer, type TestServer } from './http';

let t: TestServer;
beforeAll(async () => {
  t = await startTestServer({ runner: false });
});
afterAll(async () => {
  await t?.close();
});

/** The value of `metric` for the series whose labels include `labels`. */
function valueOf(text: string, metric: string, labels: Record<string, string>): number | undefined {
  const line = text
    .split('\n')
    .find((l) => l.startsWith(`${metric}{`) && Object.entries(labels).every(([k, v]) => l.includes(`${k}="${v}"`)));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}

describe('queue backlog metrics', () => {
  it('counts due node executions and their wait by flow and worker type', async () => {
    const g = graph(['s:start', 'e:end'], [['s', 'e']]);
    const a = await t.api('POST', '/api/flows', { name: 'backlog-a', graph: g });
    const b = await t.api('POST', '/api/flows', { name: 'backlog-b', graph: g });
    for (const flow of [a, a, b]) expect((await t.api('POST', `/api/flows/${flow.body.id}/run`, { input: {} })).status).toBe(202);
    const text = (await t.api('GET', '/metrics')).body as string;
    expect(valueOf(text, 'stitch_queue_ready_nodes', { flow_id: a.body.id, flow: 'backlog-a', worker_type: 'start' })).toBe(2);
    expect(valueOf(text, 'stitch_queue_ready_nodes', { flow_id: b.body.id, worker_type: 'start' })).toBe(1);
    expect(valueOf(text, 'stitch_queue_wait_seconds', { flow_id: a.body.id, worker_type: 'start' })).toBeGreaterThanOrEqual(0);
    expect(valueOf(text, 'stitch_queue_scheduled_nodes', { flow_id: a.body.id, worker_type: 'start' })).toBe(0);
  });
});

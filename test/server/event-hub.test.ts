/**
 * The SSE event path in one process: history then live events, resuming with Last-Event-ID, the
 * all-runs stream, and — the case that loses events in naive implementations — a transaction that
 * took a smaller event id committing after one with a larger id.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { getPool } from '@/lib/db/pool';
import { eventually, waitForRun } from '../helpers';
import { startTestServer, type TestServer } from './http';
import { openSse } from './sse-client';
import { oneWorkerGraph, registerHttpTestWorkers } from './test-workers';

let t: TestServer;

beforeAll(async () => {
  registerHttpTestWorkers();
  t = await startTestServer();
});
afterAll(() => t?.close());

async function completedRun(): Promise<string> {
  const flow = await t.api('POST', '/api/flows', { name: `sse-${Math.random()}`, graph: oneWorkerGraph('echo') });
  const { body } = await t.api('POST', `/api/flows/${flow.body.id}/run`, {});
  await waitForRun(body.runId);
  return body.runId;
}

const dbEventIds = async (runId: string) =>
  (await getPool().query<{ id: number }>('SELECT id FROM stitch_events WHERE run_id = $1 ORDER BY id', [runId])).rows.map((r) => r.id);

describe('event streams', () => {
  it('a run stream replays history, then resumes after Last-Event-ID', async () => {
    const runId = await completedRun();
    const ids = await dbEventIds(runId);
    const full = openSse(`${t.url}/api/runs/${runId}/events`);
    await eventually(async () => full.events.length === ids.length);
    expect(full.events.map((e) => e.id)).toEqual(ids);
    expect(full.events[0]).toMatchObject({ runId, type: 'run:created', payload: expect.any(Object), createdAt: expect.any(String) });
    full.close();

    const resumed = openSse(`${t.url}/api/runs/${runId}/events`, { 'last-event-id': String(ids[2]) });
    await resumed.opened;
    await eventually(async () => resumed.events.length === ids.length - 3);
    expect(resumed.events.map((e) => e.id)).toEqual(ids.slice(3));
    resumed.close();
    const viaQuery = openSse(`${t.url}/api/runs/${runId}/events?after=${ids[ids.length - 2]}`);
    await viaQuery.opened;
    await eventually(async () => viaQuery.events.length === 1);
    // A NOTIFY for the run that comes late (notify-soon.ts defers them) makes the hub read a window
    // of the run's older events: none at or below the resume point reaches the stream.
    await getPool().query(`SELECT pg_notify('stitch_events', json_build_object('runId', $1::text, 'id', $2::bigint)::text)`, [runId, ids[ids.length - 1]]);
    await getPool().query(`SELECT stitch_emit($1, jsonb_build_array(jsonb_build_object('instanceId', 'x', 'type', 'node:progress')))`, [runId]);
    await eventually(async () => viaQuery.events.some((e) => e.instanceId === 'x'));
    expect(viaQuery.events.map((e) => e.id)).toEqual([ids[ids.length - 1], ...(await dbEventIds(runId)).slice(ids.length)]);
    viaQuery.close();
  });

  it('unknown runs are 404, not an empty stream', async () => {
    const res = await t.api('GET', '/api/runs/00000000-0000-4000-8000-000000000000/events');
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe('not_found');
  });

  it('the all-runs stream starts now (or after Last-Event-ID) and carries every run', async () => {
    const earlier = await completedRun();
    const live = openSse(`${t.url}/api/events`);
    await live.opened;
    const later = await completedRun();
    const laterIds = await dbEventIds(later);
    await eventually(async () => live.events.filter((e) => e.runId === later).length === laterIds.length);
    expect(live.events.some((e) => e.runId === earlier)).toBe(false);
    live.close();

    const earlierIds = await dbEventIds(earlier);
    const replay = openSse(`${t.url}/api/events`, { 'last-event-id': String(earlierIds[0] - 1) });
    await eventually(async () => replay.events.filter((e) => e.runId === later).length === laterIds.length);
    expect(replay.events.filter((e) => e.runId === earlier).map((e) => e.id)).toEqual(earlierIds);
    replay.close();
  });

  it('an event whose transaction commits after a later id is still delivered', async () => {
    const runId = await completedRun();
    const stream = openSse(`${t.url}/api/runs/${runId}/events`);
    const all = openSse(`${t.url}/api/events`);
    const before = (await dbEventIds(runId)).length;
    await Promise.all([stream.opened, all.opened]);
    await eventually(async () => stream.events.length === before);

    const slow = new pg.Client({ connectionString: t.stitch.url });
    const fast = new pg.Client({ connectionString: t.stitch.url });
    await Promise.all([slow.connect(), fast.connect()]);
    try {
      const emit = (client: pg.Client, type: string) =>
        client.query(`SELECT stitch_emit($1, jsonb_build_array(jsonb_build_object('instanceId', 'x', 'type', $2::text)))`, [runId, type]);
      await slow.query('BEGIN');
      await emit(slow, 'node:progress'); // takes the smaller id, not yet visible
      await fast.query('BEGIN');
      await emit(fast, 'node:running'); // larger id
      await fast.query('COMMIT');
      await eventually(async () => stream.events.some((e) => e.type === 'node:running' && e.instanceId === 'x'));
      await slow.query('COMMIT');
      await eventually(async () => stream.events.some((e) => e.type === 'node:progress' && e.instanceId === 'x'));
      await eventually(async () => all.events.filter((e) => e.instanceId === 'x').length === 2);
      const ids = await dbEventIds(runId);
      expect(stream.events.map((e) => e.id).sort((a, b) => a - b)).toEqual(ids);
    } finally {
      await Promise.all([slow.end(), fast.end()]);
      stream.close();
      all.close();
    }
  });
});

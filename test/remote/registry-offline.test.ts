/**
 * Issue 21, item 11: types whose workers have been offline past STITCH_REMOTE_OFFLINE_SECONDS
 * leave the catalogue, and a registration takes their room (and the offline workers').
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getPool } from '@/lib/db/pool';
import { eventually } from '../helpers';
import { startTestServer, type TestServer } from '../server/http';

let offline: TestServer;

describe('offline types (item 11)', () => {
  beforeAll(async () => {
    offline = await startTestServer({ env: { STITCH_MAX_REMOTE_TYPES: '3', STITCH_REMOTE_OFFLINE_SECONDS: '2' } });
  });
  afterAll(() => offline?.close());

  it('types whose workers are offline past STITCH_REMOTE_OFFLINE_SECONDS leave the catalogue and make room', async () => {
    const call = (method: string, path: string, body?: unknown) => offline.api(method, path, body);
    const reg = (workerId: string, ids: string[]) => call('POST', '/api/remote-workers/register', { workerId, workers: ids.map((id) => ({ id })) });
    const listed = async () => ((await call('GET', '/api/workers')).body.workers as Array<{ id: string; remote?: unknown }>).filter((w) => w.remote).map((w) => w.id);
    expect((await reg('w-old', ['o1', 'o2', 'o3'])).status).toBe(200);
    expect(await listed()).toEqual(['o1', 'o2', 'o3']);
    // Nobody polls or registers: after 2 s the types are offline.
    await eventually(async () => (await listed()).length === 0, 30_000);
    // A new worker's registration takes the room of the offline types (and of the offline worker).
    expect((await reg('w-new', ['n1', 'n2', 'n3'])).status).toBe(200);
    const { rows } = await getPool().query('SELECT (SELECT array_agg(type ORDER BY type) FROM stitch_remote_types) AS types, (SELECT array_agg(worker_id) FROM stitch_remote_workers) AS workers');
    expect(rows[0]).toEqual({ types: ['n1', 'n2', 'n3'], workers: ['w-new'] });
    expect(await listed()).toEqual(['n1', 'n2', 'n3']);
  });
});

/**
 * Issue 21, item 11: remote worker types are bounded and removable. Types per worker, a
 * definition's size, types in all and workers in all have limits; a registration does not re-read
 * the whole table; `DELETE /api/remote-workers/types/:type` removes a type (409 while tasks of it
 * are open). Offline types: registry-offline.test.ts (its own server, with a 2 s window).
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getPool } from '@/lib/db/pool';
import { eventually, graph } from '../helpers';
import { startTestServer, type TestServer } from '../server/http';

let t: TestServer;
const api = (method: string, path: string, body?: unknown) => t.api(method, path, body);
const register = (workerId: string, ids: string[], extra: Record<string, unknown> = {}) =>
  api('POST', '/api/remote-workers/register', { workerId, workers: ids.map((id) => ({ id, ...extra })) });
const catalogue = async () => ((await api('GET', '/api/workers')).body.workers as Array<{ id: string; remote?: unknown }>).filter((w) => w.remote).map((w) => w.id);
const storedTypes = async () => (await getPool().query('SELECT type FROM stitch_remote_types ORDER BY type')).rows.map((r) => r.type);

beforeAll(async () => {
  t = await startTestServer({
    env: {
      STITCH_MAX_REMOTE_TYPES: '6',
      STITCH_MAX_REMOTE_TYPES_PER_WORKER: '3',
      STITCH_MAX_REMOTE_DEFINITION_BYTES: '2000',
      STITCH_MAX_REMOTE_WORKERS: '5',
    },
  });
});
afterAll(() => t?.close());

describe('remote worker types are bounded (item 11)', () => {
  it('types per worker and a definition\'s size: 400, nothing stored', async () => {
    const many = await register('w-many', ['m1', 'm2', 'm3', 'm4']);
    expect(many.status).toBe(400);
    expect(many.body.error.message).toContain('STITCH_MAX_REMOTE_TYPES_PER_WORKER');
    const big = await register('w-big', ['big'], { description: 'x'.repeat(2500) });
    expect(big.status).toBe(400);
    expect(big.body.error.details[0].field).toBe('workers.0');
    expect(await storedTypes()).toEqual([]);
  });

  it('types in all: 409 limit_reached; re-announcing the same types takes no new room', async () => {
    expect((await register('w-a', ['a1', 'a2', 'a3'])).status).toBe(200);
    expect((await register('w-b', ['b1', 'b2', 'b3'])).status).toBe(200);
    const over = await register('w-c', ['c1']);
    expect(over.status).toBe(409);
    expect(over.body.error).toMatchObject({ code: 'limit_reached', details: { limit: 6, variable: 'STITCH_MAX_REMOTE_TYPES' } });
    expect((await register('w-a', ['a1', 'a2', 'a3'], { description: 'again' })).status).toBe(200);
    expect(await storedTypes()).toEqual(['a1', 'a2', 'a3', 'b1', 'b2', 'b3']);
  });

  it('a registration reads no stored definition (it used to re-read the whole table)', async () => {
    const statements: string[] = [];
    const query = pg.Client.prototype.query;
    pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
      const text = typeof args[0] === 'string' ? args[0] : (args[0] as { text?: string })?.text;
      if (text) statements.push(text);
      return (query as (...a: unknown[]) => unknown).apply(this, args);
    } as typeof query;
    try {
      expect((await register('w-b', ['b1', 'b2', 'b3'], { description: 'b again' })).status).toBe(200);
    } finally {
      pg.Client.prototype.query = query;
    }
    const reads = statements.filter((s) => /SELECT[\s\S]*\bdefinition\b[\s\S]*FROM stitch_remote_types/i.test(s));
    expect(reads).toEqual([]);
    // The process's copy knows the new definition anyway (a flow using it saves).
    const flow = await api('POST', '/api/flows', { name: 'uses b1', graph: graph(['s:start', 'r:b1', 'e:end'], [['s', 'r'], ['r', 'e']]) });
    expect(flow.status, JSON.stringify(flow.body)).toBe(201);
  });

  it('DELETE /api/remote-workers/types/:type: 409 while a task of it is open, then removed (and 404 after)', async () => {
    const flow = await api('POST', '/api/flows', { name: 'uses a1', graph: graph(['s:start', 'r:a1', 'e:end'], [['s', 'r'], ['r', 'e']]) });
    await api('POST', `/api/flows/${flow.body.id}/run`, {});
    const [task] = (await api('POST', '/api/tasks/poll', { types: ['a1'], workerId: 'w-a', waitSeconds: 20 })).body.tasks;
    const open = await api('DELETE', '/api/remote-workers/types/a1');
    expect(open.status).toBe(409);
    expect(await storedTypes()).toContain('a1');
    expect((await api('POST', `/api/tasks/${task.taskId}/complete`, { token: task.token, output: {} })).status).toBe(200);
    expect((await api('DELETE', '/api/remote-workers/types/a1')).status).toBe(200);
    expect(await storedTypes()).not.toContain('a1');
    expect(await catalogue()).not.toContain('a1');
    expect((await api('DELETE', '/api/remote-workers/types/a1')).status).toBe(404);
    const saved = await api('POST', '/api/flows', { name: 'uses a1 again', graph: graph(['s:start', 'r:a1', 'e:end'], [['s', 'r'], ['r', 'e']]) });
    expect(saved.status).toBe(400);
  });

  it('workers in all: a poll from a new worker beyond the limit is 409', async () => {
    // Known now: w-a, w-b (w-many, w-big and w-c stored nothing). Three more fit, the next does not.
    for (const id of ['p1', 'p2', 'p3']) expect((await api('POST', '/api/tasks/poll', { types: ['x'], workerId: id, waitSeconds: 0 })).status).toBe(200);
    const over = await api('POST', '/api/tasks/poll', { types: ['x'], workerId: 'p4', waitSeconds: 0 });
    expect(over.status).toBe(409);
    expect(over.body.error.details.variable).toBe('STITCH_MAX_REMOTE_WORKERS');
    expect((await api('POST', '/api/tasks/poll', { types: ['x'], workerId: 'p1', waitSeconds: 0 })).status).toBe(200);
  });

});

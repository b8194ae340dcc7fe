/**
 * The pull protocol over real HTTP, spoken by the test itself (the Python client has its own
 * file): registration and the catalogue, the save-time type-check, poll → heartbeat → complete,
 * and every refusal — forged, stale-attempt and late completions — changing nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getPool } from '@/lib/db/pool';
import { getRunWithNodes } from '@/lib/db/runs';
import { graph, waitForRun, eventually } from '../helpers';
import { startTestServer, type TestServer } from '../server/http';

let t: TestServer;
const KEY = 'remote-protocol-key';
const auth = { authorization: `Bearer ${KEY}` };
const api = (method: string, path: string, body?: unknown) => t.api(method, path, body, auth);

const definition = (type: string, extra: Record<string, unknown> = {}) => ({
  id: type,
  description: 'a remote test type',
  input: { text: { type: 'string', required: true, description: 'text' } },
  output: { text: { type: 'string', description: 'text' } },
  config: { suffix: '' },
  ...extra,
});

async function startFlowRun(type: string, input: unknown, data: Record<string, unknown> = {}) {
  const g = graph(['s:start', { id: 'r', workerType: type, ...data }, 'e:end'], [['s', 'r'], ['r', 'e']]);
  const flow = await api('POST', '/api/flows', { name: `remote ${type}`, graph: g });
  expect(flow.status, JSON.stringify(flow.body)).toBe(201);
  const run = await api('POST', `/api/flows/${flow.body.id}/run`, { input });
  expect(run.status, JSON.stringify(run.body)).toBeLessThan(300);
  return run.body.runId as string;
}

async function pollOne(type: string, workerId = 'w-test', waitSeconds = 10) {
  const polled = await api('POST', '/api/tasks/poll', { types: [type], workerId, waitSeconds });
  expect(polled.status, JSON.stringify(polled.body)).toBe(200);
  return polled.body.tasks as Array<Record<string, any>>;
}

async function nodeState(runId: string, nodeId = 'r') {
  return (await getRunWithNodes(runId)).nodes[nodeId];
}

beforeAll(async () => {
  t = await startTestServer({ env: { STITCH_API_KEY: KEY } });
});
afterAll(async () => {
  await t?.close();
});

describe('registration and catalogue', () => {
  it('stores announced definitions and lists them with the online count', async () => {
    const reg = await api('POST', '/api/remote-workers/register', { workerId: 'w-cat', workers: [definition('cat-remote', { leaseSeconds: 7 })] });
    expect(reg.status, JSON.stringify(reg.body)).toBe(200);
    const { body } = await api('GET', '/api/workers');
    const entry = body.workers.find((w: { id: string }) => w.id === 'cat-remote');
    expect(entry).toMatchObject({ id: 'cat-remote', name: 'cat-remote', category: 'Remote', remote: { online: 1, leaseSeconds: 7 } });
    expect(entry.remote.lastSeenAt).toBeTruthy();
    const stored = await getPool().query('SELECT definition FROM stitch_remote_types WHERE type = $1', ['cat-remote']);
    expect(stored.rows[0].definition.input.text.required).toBe(true);
  });

  it('refuses bad announcements precisely and stores nothing', async () => {
    const noAuth = await t.api('POST', '/api/remote-workers/register', { workerId: 'x', workers: [definition('x-remote')] });
    expect(noAuth.status).toBe(401);
    const local = await api('POST', '/api/remote-workers/register', { workerId: 'x', workers: [definition('transform')] });
    expect(local.status).toBe(409);
    const badField = await api('POST', '/api/remote-workers/register', {
      workerId: 'x',
      workers: [definition('x-remote', { input: { a: { type: 'weird' } } })],
    });
    expect(badField.status).toBe(400);
    const twice = await api('POST', '/api/remote-workers/register', { workerId: 'x', workers: [definition('x-remote'), definition('x-remote')] });
    expect(twice.status).toBe(400);
    const { rows } = await getPool().query(`SELECT count(*)::int AS n FROM stitch_remote_types WHERE type IN ('x-remote', 'transform')`);
    expect(rows[0].n).toBe(0);
  });

  it('type-checks remote nodes at save like local ones', async () => {
    await api('POST', '/api/remote-workers/register', { workerId: 'w-check', workers: [definition('check-remote')] });
    const unknown = await api('POST', '/api/flows', { name: 'u', graph: graph(['s:start', 'r:never-announced'], [['s', 'r']]) });
    expect(unknown.status).toBe(400);
    expect(JSON.stringify(unknown.body)).toContain('unknown_worker_type');
    // `text` is required, and a transform that drops every field upstream cannot provide it.
    const missing = await api('POST', '/api/flows', {
      name: 'm',
      graph: graph([{ id: 'x', workerType: 'transform', config: { pick: ['other'] } }, { id: 'r', workerType: 'check-remote' }], [['x', 'r']]),
    });
    expect([201, 400]).toContain(missing.status);
    const ok = await api('POST', '/api/flows', { name: 'ok', graph: graph(['s:start', 'r:check-remote'], [['s', 'r']]) });
    expect(ok.status).toBe(201);
  });
});

describe('poll, heartbeat, complete', () => {
  it('hands a ready task to one worker, shows heartbeat progress, and completes the node', async () => {
    await api('POST', '/api/remote-workers/register', { workerId: 'w-1', workers: [definition('happy-remote')] });
    const runId = await startFlowRun('happy-remote', { text: 'hello' }, { config: { suffix: '!' } });
    const [task] = await pollOne('happy-remote', 'w-1');
    expect(task).toMatchObject({ type: 'happy-remote', runId, nodeId: 'r', attempt: 1, input: { text: 'hello' }, config: { suffix: '!' }, leaseSeconds: 30 });
    expect(await pollOne('happy-remote', 'w-2', 0)).toEqual([]); // claimed once

    const beat = await api('POST', `/api/tasks/${task.taskId}/heartbeat`, { token: task.token, progress: 0.4, message: 'denoising' });
    expect(beat.status, JSON.stringify(beat.body)).toBe(200);
    const running = await nodeState(runId);
    expect(running).toMatchObject({ status: 'running', progress: expect.closeTo(0.4, 5), metadata: { message: 'denoising' } });
    const { rows: events } = await getPool().query(`SELECT payload FROM stitch_events WHERE run_id = $1 AND type = 'node:progress'`, [runId]);
    expect(events.map((e) => e.payload)).toEqual([{ attempt: 1, progress: expect.closeTo(0.4, 5), message: 'denoising' }]);

    const done = await api('POST', `/api/tasks/${task.taskId}/complete`, { token: task.token, output: { text: 'hello!' }, usage: { seconds: 1.5 } });
    expect(done.status, JSON.stringify(done.body)).toBe(200);
    const run = await waitForRun(runId);
    expect(run.status).toBe('completed');
    expect(run.nodes.r.output).toMatchObject({ text: 'hello!' });
    expect(run.nodes.r.metadata.usage).toEqual({ seconds: 1.5 });
    // An identical repeat is a duplicate; a different late one is refused.
    const again = await api('POST', `/api/tasks/${task.taskId}/complete`, { token: task.token, output: { text: 'hello!' } });
    expect(again.body).toMatchObject({ ok: true, duplicate: true });
    const late = await api('POST', `/api/tasks/${task.taskId}/complete`, { token: task.token, output: { text: 'other' } });
    expect(late.status).toBe(409);
    expect((await nodeState(runId)).output).toMatchObject({ text: 'hello!' });
  });

  it('wakes a waiting long-poll when a task becomes ready', async () => {
    await api('POST', '/api/remote-workers/register', { workerId: 'w-wake', workers: [definition('wake-remote')] });
    const waiting = pollOne('wake-remote', 'w-wake', 25);
    await eventually(async () => (await getPool().query(`SELECT 1 FROM stitch_remote_workers WHERE worker_id = 'w-wake' AND last_seen_at > now() - interval '5 seconds'`)).rowCount);
    const runId = await startFlowRun('wake-remote', { text: 'wake' });
    const [task] = await waiting;
    expect(task.runId).toBe(runId);
    const { rows } = await getPool().query('SELECT claimed_at - ready_at AS waited FROM stitch_remote_tasks WHERE id = $1', [task.taskId]);
    expect(rows[0].waited).toBeTruthy();
  });

  it('fails for good on a non-retryable failure', async () => {
    await api('POST', '/api/remote-workers/register', { workerId: 'w-f', workers: [definition('fail-remote')] });
    const runId = await startFlowRun('fail-remote', { text: 'x' });
    const [task] = await pollOne('fail-remote', 'w-f');
    const failed = await api('POST', `/api/tasks/${task.taskId}/fail`, { token: task.token, error: 'bad image', retryable: false });
    expect(failed.status).toBe(200);
    const run = await waitForRun(runId);
    expect(run.status).toBe('failed');
    expect(run.nodes.r).toMatchObject({ status: 'failed', attempt: 1, error: 'bad image' });
  });
});

describe('refusals change nothing', () => {
  it('forged tokens are 401; stale-attempt and late completions are 409', async () => {
    await api('POST', '/api/remote-workers/register', { workerId: 'w-r', workers: [definition('lease-remote', { leaseSeconds: 2, retry: { attempts: 3, backoffMs: 10 } })] });
    const runId = await startFlowRun('lease-remote', { text: 'x' });
    const [first] = await pollOne('lease-remote', 'w-r');

    const forged = first.token.replace(/.$/, (ch: string) => (ch === 'A' ? 'B' : 'A'));
    for (const action of ['complete', 'heartbeat', 'fail', 'uploads']) {
      const res = await api('POST', `/api/tasks/${first.taskId}/${action}`, { token: forged, output: { text: 'forged' }, error: 'forged' });
      expect(res.status, action).toBe(401);
    }
    const missing = await api('POST', `/api/tasks/00000000-0000-4000-8000-000000000000/complete`, { token: first.token, output: {} });
    expect(missing.status).toBe(404);
    const invalid = await api('POST', `/api/tasks/${first.taskId}/heartbeat`, { token: first.token, progress: 7 });
    expect(invalid.status).toBe(400);
    expect(await nodeState(runId)).toMatchObject({ status: 'running', attempt: 1, output: null });

    // No heartbeat: the lease expires and the node comes back as attempt 2, a new task.
    const [second] = await pollOne('lease-remote', 'w-r2', 20);
    expect(second).toMatchObject({ runId, attempt: 2 });
    expect(second.taskId).not.toBe(first.taskId);
    const before = await nodeState(runId);
    expect(before).toMatchObject({ status: 'running', attempt: 2 });
    expect(before.error).toContain('stopped renewing its lease');

    const late = await api('POST', `/api/tasks/${first.taskId}/complete`, { token: first.token, output: { text: 'late' } });
    expect(late.status).toBe(409);
    const lateBeat = await api('POST', `/api/tasks/${first.taskId}/heartbeat`, { token: first.token });
    expect(lateBeat.status).toBe(409);
    // The old attempt's (genuine) token on the new task: not this task's token.
    const stale = await api('POST', `/api/tasks/${second.taskId}/complete`, { token: first.token, output: { text: 'stale' } });
    expect(stale.status).toBe(401);
    // And via the callback route with the old attempt's token: refused by state.
    const viaCallback = await api('POST', `/api/stitch/callback/${runId}/r?token=${first.token}`, { status: 'completed', output: { text: 'stale' } });
    expect(viaCallback.status).toBe(409);
    expect(await nodeState(runId)).toMatchObject({ status: 'running', attempt: 2 });

    const done = await api('POST', `/api/tasks/${second.taskId}/complete`, { token: second.token, output: { text: 'second' } });
    expect(done.status).toBe(200);
    const run = await waitForRun(runId);
    expect(run.nodes.r).toMatchObject({ status: 'completed', attempt: 2, output: { text: 'second' } });
  });

  it('does not hand out tasks of a cancelled run', async () => {
    await api('POST', '/api/remote-workers/register', { workerId: 'w-c', workers: [definition('cancel-remote')] });
    const runId = await startFlowRun('cancel-remote', { text: 'x' });
    await eventually(async () => (await getPool().query(`SELECT 1 FROM stitch_remote_tasks WHERE run_id = $1`, [runId])).rowCount);
    expect((await api('POST', `/api/runs/${runId}/cancel`)).status).toBe(200);
    expect(await pollOne('cancel-remote', 'w-c', 0)).toEqual([]);
    const { rows } = await getPool().query(`SELECT state FROM stitch_remote_tasks WHERE run_id = $1`, [runId]);
    expect(rows[0].state).toBe('stale');

    // A task already held when its run is cancelled: the next heartbeat tells the worker to stop.
    const held = await startFlowRun('cancel-remote', { text: 'y' });
    const [task] = await pollOne('cancel-remote', 'w-c');
    expect(task.runId).toBe(held);
    expect((await api('POST', `/api/runs/${held}/cancel`)).status).toBe(200);
    expect((await api('POST', `/api/tasks/${task.taskId}/heartbeat`, { token: task.token, progress: 0.5 })).status).toBe(409);
    expect((await api('POST', `/api/tasks/${task.taskId}/complete`, { token: task.token, output: { text: 'after cancel' } })).status).toBe(409);
    expect(await nodeState(held)).toMatchObject({ status: 'cancelled', output: null });
  });
});

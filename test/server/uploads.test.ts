/**
 * Issue 21, items 1 and 2: presigned uploads. The signature is checked before a byte of the body
 * is read (whatever the content type), uploads are files (no JSON rules), a malformed path is a
 * 400; and an upload URL is bound to its task's attempt (409 once settled) and never replaces a
 * stored file.
 */
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { get } from '@/lib/storage';
import { graph } from '../helpers';
import { startTestServer, type TestServer } from './http';

let t: TestServer;
const KEY = 'uploads-test-key';
const auth = { authorization: `Bearer ${KEY}` };
const api = (method: string, path: string, body?: unknown) => t.api(method, path, body, auth);

beforeAll(async () => {
  t = await startTestServer({ env: { STITCH_API_KEY: KEY } });
});
afterAll(() => t?.close());

let types = 0;

/** A task of a new run of its own remote type (so no other run's retry is polled instead), with an upload URL. */
async function taskWithUpload(filename = 'out.json') {
  const type = `up-remote-${++types}`;
  const reg = await api('POST', '/api/remote-workers/register', { workerId: `w-${type}`, workers: [{ id: type, leaseSeconds: 2 }] });
  expect(reg.status, JSON.stringify(reg.body)).toBe(200);
  const g = graph(['s:start', { id: 'r', workerType: type, retry: { attempts: 2, backoffMs: 0 } }, 'e:end'], [['s', 'r'], ['r', 'e']]);
  const flow = await api('POST', '/api/flows', { name: `uploads ${type}`, graph: g });
  const runId = (await api('POST', `/api/flows/${flow.body.id}/run`, {})).body.runId as string;
  const task = await pollOne(type);
  return { type, runId, task, grant: await grantFor(task, filename) };
}

async function pollOne(type: string) {
  const polled = await api('POST', '/api/tasks/poll', { types: [type], workerId: `w-${type}`, waitSeconds: 30 });
  expect(polled.body.tasks, JSON.stringify(polled.body)).toHaveLength(1);
  return polled.body.tasks[0] as { taskId: string; token: string; runId: string; attempt: number };
}

async function grantFor(task: { taskId: string; token: string }, filename = 'out.json') {
  const grant = await api('POST', `/api/tasks/${task.taskId}/uploads`, { token: task.token, filename, contentType: 'application/json' });
  expect(grant.status, JSON.stringify(grant.body)).toBe(200);
  const url = new URL(grant.body.uploadUrl);
  return { ...grant.body, path: url.pathname + url.search } as { path: string; key: string; url: string };
}

const put = (path: string, body: string, type = 'application/json') =>
  fetch(t.url + path, { method: 'PUT', headers: { 'content-type': type }, body }).then(async (r) => ({ status: r.status, body: await r.json() }));

async function stored(key: string): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of await get(key)) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString();
}

/**
 * A PUT whose body stays open after its first chunk: resolves with the status if the server
 * answers while the body is still being sent, or with 'no answer' if it waited for the body.
 */
function answeredBeforeBodyEnds(path: string, type: string): Promise<number | 'no answer'> {
  const url = new URL(t.url);
  return new Promise((resolve) => {
    const req = http.request({ host: url.hostname, port: url.port, method: 'PUT', path, headers: { 'content-type': type, 'content-length': 200 * 1024 * 1024 } });
    const timer = setTimeout(() => {
      req.destroy();
      resolve('no answer');
    }, 10_000);
    req.on('response', (res) => {
      clearTimeout(timer);
      res.resume();
      req.destroy();
      resolve(res.statusCode!);
    });
    req.on('error', () => undefined);
    req.write(Buffer.alloc(64 * 1024, '1')); // …and nothing more: 200 MB declared, 64 KB sent
  });
}

describe('item 1: the signature before the body; uploads are files', () => {
  it('a bad signature is refused while the body is still coming, whatever the content type', async () => {
    const { grant } = await taskWithUpload();
    const forged = grant.path.replace(/signature=[^&]+/, 'signature=forged');
    for (const type of ['application/json', 'application/octet-stream', 'text/plain']) {
      expect(await answeredBeforeBodyEnds(forged, type), type).toBe(401);
    }
  });

  it('a JSON file with a number beyond a double is stored as it is, not refused as an API body', async () => {
    const { grant } = await taskWithUpload('big-number.json');
    const file = '{"value": 1e400, "n": [1, 2, 3]}';
    const res = await put(grant.path, file);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(await stored(grant.key)).toBe(file);
  });

  it('a malformed percent-escape in the path is a 400, not a 500', async () => {
    for (const path of ['/api/uploads/%', '/api/uploads/%E0%A4%A', '/api/uploads/a/%FF?task=x&expires=1&signature=x']) {
      const res = await put(path, 'x');
      expect(res.status, path).toBe(400);
      expect(res.body.error.code).toBe('validation_failed');
    }
  });
});

describe('item 2: an upload URL is bound to its attempt and never replaces a file', () => {
  it('a second PUT to the same URL is refused and the first file stays', async () => {
    const { grant } = await taskWithUpload();
    expect((await put(grant.path, '{"first":true}')).status).toBe(200);
    const again = await put(grant.path, '{"second":true}');
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('conflict');
    expect(await stored(grant.key)).toBe('{"first":true}');
  });

  it('once the attempt settled, its URLs take no file: after complete, and after the lease lapsed into attempt 2', async () => {
    const completed = await taskWithUpload();
    const done = await api('POST', `/api/tasks/${completed.task.taskId}/complete`, { token: completed.task.token, output: { file: completed.grant.url } });
    expect(done.status, JSON.stringify(done.body)).toBe(200);
    const late = await put(completed.grant.path, '{"late":true}');
    expect(late.status).toBe(409);
    await expect(stored(completed.grant.key)).rejects.toMatchObject({ code: 'not_found' });

    // No heartbeat: the lease (2 s) lapses, the attempt fails, attempt 2 is a new task.
    const lapsed = await taskWithUpload();
    const second = await pollOne(lapsed.type);
    expect(second).toMatchObject({ runId: lapsed.runId, attempt: 2 });
    const stale = await put(lapsed.grant.path, '{"stale":true}');
    expect(stale.status).toBe(409);
    await expect(stored(lapsed.grant.key)).rejects.toMatchObject({ code: 'not_found' });
    // The new attempt's own URL works.
    const fresh = await grantFor(second);
    expect((await put(fresh.path, '{"attempt":2}')).status).toBe(200);
  });
});

/**
 * `stitch fake-vendor` as a process (issue 25.2–3): routes with path parameters, and a stand-in
 * that fails in the ordinary ways — a callback to a URL where nothing listens (a rejected promise
 * in a timer), a handler that throws, an async handler that rejects, a timer that throws — prints
 * each failure and keeps serving.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { freePort } from '@/lib/db/embedded';
import { eventually } from '../helpers';
import { spawnStitch, type StitchProcess } from './processes';

let dir: string;
let vendor: StitchProcess;
let url: string;

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'stitch-fake-vendor-'));
  const nobody = `http://127.0.0.1:${await freePort()}/api/stitch/callback/r/n`; // nothing listens there
  writeFileSync(
    path.join(dir, 'vendor.ts'),
    `export default {
  'POST /v2/transcript': () => {
    setTimeout(() => void fetch(${JSON.stringify(nobody)}, { method: 'POST', body: '{}' }), 10);
    return { json: { id: 'fv-1', status: 'queued' } };
  },
  'GET /v2/transcript/:id': (request: { params: Record<string, string> }) => ({ json: { id: request.params.id, status: 'completed' } }),
  'POST /throws': () => { throw new Error('handler bug'); },
  'POST /rejects': async () => { throw new Error('async handler bug'); },
  'POST /timer-throws': () => { setTimeout(() => { throw new Error('timer bug'); }, 1); return { json: {} }; },
};
`,
  );
  vendor = spawnStitch(['fake-vendor', path.join(dir, 'vendor.ts')], {});
  url = (await vendor.waitFor(/Fake vendor at (http:\/\/\S+)/))[1];
}, 60_000);

afterAll(async () => {
  await vendor?.stop();
  rmSync(dir, { recursive: true, force: true });
});

it('keeps serving after an unreachable callback, a throwing or rejecting handler and a throwing timer, saying what failed', async () => {
  const submit = await fetch(`${url}/v2/transcript`, { method: 'POST', body: '{"audio_url":"a.mp3"}' });
  expect(await submit.json()).toEqual({ id: 'fv-1', status: 'queued' });
  await vendor.waitFor(/! a promise of a route failed: TypeError: fetch failed \(.*ECONNREFUSED.*\) — the fake vendor keeps serving/);

  expect((await fetch(`${url}/throws`, { method: 'POST' })).status).toBe(500);
  expect((await fetch(`${url}/rejects`, { method: 'POST' })).status).toBe(500);
  expect((await fetch(`${url}/timer-throws`, { method: 'POST' })).status).toBe(200);
  await eventually(async () => /timer bug/.test(vendor.output()));
  expect(vendor.output()).toMatch(/! POST \/throws failed \(answered 500\): Error: handler bug/);
  expect(vendor.output()).toMatch(/! POST \/rejects failed \(answered 500\): Error: async handler bug/);

  // Still there, and path parameters reach the route.
  expect(await (await fetch(`${url}/v2/transcript/fv-1`)).json()).toEqual({ id: 'fv-1', status: 'completed' });
  expect(vendor.output()).toContain('GET /v2/transcript/fv-1');
  expect(vendor.child.exitCode).toBeNull();
}, 60_000);

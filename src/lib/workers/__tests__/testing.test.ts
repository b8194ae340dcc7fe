/**
 * The worker test harness (testing.ts): one attempt without database or server, under the
 * engine's rules — validation, sync-without-callback, first result wins, merge over stored input,
 * callback adapters, scheduled callbacks, deadlines and poll — plus the fake vendor server.
 */
import { describe, expect, it } from 'vitest';
import type { NodeConfig, WorkerCallback, WorkerDefinition } from '@/types/stitch';
import { ConflictError, NonRetriableError, ValidationError } from '@/lib/errors';
import { getConfig } from '@/lib/config';
import { updateNodeState } from '@/lib/db/runs';
import { verifyCallbackToken } from '@/lib/host/callback-tokens';
import type { IWorker, PollResult } from '../base';
import { buildCallbackUrl, logWorker, scheduleCallback, triggerCallback } from '../utils';
import { runWorker, startFakeVendor } from '../testing';

const definition = (type: 'sync' | 'async', extra: Partial<WorkerDefinition> = {}): WorkerDefinition => ({
  id: 'probe',
  name: 'Probe',
  type,
  description: 'test',
  input: { prompt: { type: 'string', required: true, description: 'p', aliases: ['text'] }, n: { type: 'number', description: 'n', default: 2 } },
  output: {},
  config: { model: 'small' },
  ...extra,
});

class EchoWorker implements IWorker {
  constructor() {
    logWorker(getConfig().workers.probeApiKey ? 'info' : 'warn', getConfig().workers.probeApiKey ? 'real mode' : 'Probe in MOCK MODE', {
      apiKey: getConfig().workers.probeApiKey,
    });
  }
  async execute(runId: string, nodeId: string, config: NodeConfig, input: any) {
    await updateNodeState(runId, nodeId, { status: 'running', metadata: { progress: 0.5, message: 'half way' } });
    await triggerCallback(runId, nodeId, { status: 'completed', output: { ...input, model: config.model } });
  }
}

describe('runWorker', () => {
  it('runs a sync worker: validated input (alias, default), merged config, progress, logs, callback', async () => {
    const run = await runWorker(EchoWorker, { input: { text: 'hi' }, config: {}, definition: definition('sync') });
    expect(run.status).toBe('completed');
    expect(run.output).toEqual({ text: 'hi', n: 2, model: 'small' });
    expect(run.callbacks).toHaveLength(1);
    expect(run.stateUpdates).toEqual([{ status: 'running', metadata: { progress: 0.5, message: 'half way' } }]);
    expect(run.logs[0]).toMatchObject({ level: 'warn', message: 'Probe in MOCK MODE' });
  });

  it('applies env while constructing and redacts secrets in captured log lines', async () => {
    const run = await runWorker(EchoWorker, { input: { prompt: 'x' }, definition: definition('sync'), env: { PROBE_API_KEY: 'sk-secret' } });
    expect(run.logs[0]).toMatchObject({ level: 'info', message: 'real mode', context: { apiKey: '[redacted]' } });
    expect(process.env.PROBE_API_KEY).toBeUndefined();
  });

  it('fails invalid input without executing, as not retriable', async () => {
    const run = await runWorker(EchoWorker, { input: { n: 'many' }, definition: definition('sync') });
    expect(run.status).toBe('failed');
    expect(run.error).toBe('Invalid input for Probe: Missing required field: prompt; Field n must be number, got string');
    expect(run.retriable).toBe(false);
    expect(run.logs).toEqual([]);
  });

  it('fails a sync worker that returns without a callback', async () => {
    const run = await runWorker({ execute: async () => {} }, { definition: definition('sync', { input: {} }) });
    expect(run.status).toBe('failed');
    expect(run.error).toMatch(/returned without calling triggerCallback/);
    expect(run.retriable).toBe(true);
  });

  it('fails on a throw; NonRetriableError is not retriable; the first result settles', async () => {
    const thrown = await runWorker({
      execute: async () => {
        throw new NonRetriableError('bad key');
      },
    });
    expect(thrown).toMatchObject({ status: 'failed', error: 'bad key', retriable: false });
    const twice = await runWorker({
      execute: async (runId: string, nodeId: string) => {
        await triggerCallback(runId, nodeId, { status: 'completed', output: { a: 1 } });
        await triggerCallback(runId, nodeId, { status: 'failed', error: 'late' });
      },
    });
    expect(twice).toMatchObject({ status: 'completed', output: { a: 1 } });
    expect(twice.callbacks).toHaveLength(2);
  });

  it('runs an async worker against a fake vendor; the callback merges over the stored input', async () => {
    const vendor = await startFakeVendor({ 'POST /v1/jobs': { status: 202, json: { jobId: 'j1' } } });
    class AsyncProbe implements IWorker {
      async execute(runId: string, nodeId: string, config: NodeConfig, input: any) {
        const res = await fetch(`${vendor.url}/v1/jobs`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json', Authorization: 'Bearer k' },
          body: JSON.stringify({ prompt: input.prompt, callback_url: buildCallbackUrl(runId, nodeId) }),
        });
        const { jobId } = (await res.json()) as { jobId: string };
        await updateNodeState(runId, nodeId, { status: 'running', output: { ...input, jobId } });
      }
    }
    try {
      const run = await runWorker(AsyncProbe, { input: { prompt: 'cat' }, definition: definition('async') });
      expect(run.status).toBe('running');
      expect(vendor.requests).toHaveLength(1);
      expect(vendor.requests[0]).toMatchObject({ method: 'POST', path: '/v1/jobs', headers: { authorization: 'Bearer k' } });
      const sent = vendor.requests[0].body as { callback_url: string };
      expect(sent.callback_url).toBe(run.callbackUrl);
      const url = new URL(run.callbackUrl!);
      expect(url.pathname).toBe(`/api/stitch/callback/${run.runId}/node`);
      expect(verifyCallbackToken(url.searchParams.get('token')!, run.runId, 'node')).toEqual({ valid: true, attempt: 1 });

      await expect(run.deliverCallback({ nope: true })).rejects.toBeInstanceOf(ValidationError);
      await expect(run.deliverCallback({ status: 'completed', output: { videoUrl: 'v.mp4' } })).resolves.toEqual({ ok: true });
      expect(run).toMatchObject({ status: 'completed', output: { prompt: 'cat', n: 2, jobId: 'j1', videoUrl: 'v.mp4' } });
      await expect(run.deliverCallback({ status: 'completed', output: { videoUrl: 'v.mp4' } })).resolves.toEqual({ ok: true, duplicate: true });
      await expect(run.deliverCallback({ status: 'failed', error: 'late' })).rejects.toBeInstanceOf(ConflictError);
    } finally {
      await vendor.close();
    }
  });

  it('passes vendor payloads through parseCallback, including handshake replies', async () => {
    class Adapted implements IWorker {
      async execute(runId: string, nodeId: string, _c: NodeConfig, input: unknown) {
        buildCallbackUrl(runId, nodeId);
        await updateNodeState(runId, nodeId, { status: 'running', output: input });
      }
      parseCallback(body: any): WorkerCallback | { reply: unknown } {
        if (body.challenge) return { reply: { challenge: body.challenge } };
        return body.state === 'done' ? { status: 'completed', output: { url: body.file } } : { status: 'failed', error: body.reason };
      }
    }
    const run = await runWorker(Adapted, { input: { prompt: 'p' } });
    expect(run.status).toBe('running');
    expect(await run.deliverCallback({ challenge: 'abc' })).toEqual({ reply: { challenge: 'abc' } });
    await run.deliverCallback({ state: 'done', file: 'f.mp4' });
    expect(run.output).toEqual({ prompt: 'p', url: 'f.mp4' });
  });

  it('awaits an async parseCallback; a webhook with only the job id ({reply, pollNow}) runs poll() now (issue 25.4)', async () => {
    const polled: unknown[] = [];
    class IdOnly implements IWorker {
      async execute(runId: string, nodeId: string, _c: NodeConfig, input: any) {
        buildCallbackUrl(runId, nodeId);
        await updateNodeState(runId, nodeId, { status: 'running', output: { ...input, jobId: 'j-5' } });
      }
      async parseCallback(body: any): Promise<WorkerCallback | { reply: unknown; pollNow?: boolean }> {
        await new Promise((resolve) => setTimeout(resolve, 1));
        if (body.lookupFails) throw new Error('vendor lookup timed out');
        if (body.garbage) throw new ValidationError('no transcript_id');
        return body.status === 'error' ? { status: 'failed', error: body.error } : { reply: { ok: true }, pollNow: true };
      }
      async poll(_r: string, _n: string, _c: NodeConfig, stored: any): Promise<PollResult> {
        polled.push(stored);
        return { status: 'completed', output: { text: `transcript of ${stored.jobId}` } };
      }
    }
    const run = await runWorker(IdOnly, { input: { prompt: 'p' }, definition: definition('async') });
    // An async adapter's own failure is not the body's fault: 503, so the vendor retries.
    await expect(run.deliverCallback({ lookupFails: true })).rejects.toMatchObject({ code: 'unavailable', message: expect.stringContaining('vendor lookup timed out') });
    await expect(run.deliverCallback({ garbage: true })).rejects.toMatchObject({ code: 'validation_failed', message: expect.stringContaining('not understood') });
    expect(run.status).toBe('running');
    expect(await run.deliverCallback({ transcript_id: 'j-5', status: 'completed' })).toEqual({ reply: { ok: true } });
    expect(polled).toEqual([{ prompt: 'p', n: 2, jobId: 'j-5' }]);
    expect(run).toMatchObject({ status: 'completed', output: { prompt: 'p', n: 2, jobId: 'j-5', text: 'transcript of j-5' } });

    const failed = await runWorker(IdOnly, { input: { prompt: 'p' }, definition: definition('async') });
    await failed.deliverCallback({ status: 'error', error: 'audio unreadable' });
    expect(failed).toMatchObject({ status: 'failed', error: 'audio unreadable' });
  });

  it('delivers scheduled callbacks (async mock mode) with runScheduled', async () => {
    const run = await runWorker(
      {
        async execute(runId: string, nodeId: string, _c: NodeConfig, input: any) {
          await updateNodeState(runId, nodeId, { status: 'running', output: input });
          await scheduleCallback(runId, nodeId, { status: 'completed', output: { result: 'mock' } }, 3);
        },
      },
      { input: { prompt: 'p' }, definition: definition('async') },
    );
    expect(run.status).toBe('running');
    expect(run.scheduled).toEqual([{ callback: { status: 'completed', output: { result: 'mock' } }, delaySeconds: 3, delivered: false }]);
    await run.runScheduled();
    expect(run).toMatchObject({ status: 'completed', output: { prompt: 'p', n: 2, result: 'mock' } });
  });

  it('expires the deadline: poll() settles, no poll() fails with the deadline', async () => {
    const polled: unknown[] = [];
    class Polling implements IWorker {
      async execute(runId: string, nodeId: string) {
        await updateNodeState(runId, nodeId, { status: 'running', output: { taskId: 't9' } });
      }
      async poll(_r: string, _n: string, _c: NodeConfig, stored: unknown): Promise<PollResult> {
        polled.push(stored);
        return { status: 'completed', output: { done: true } };
      }
    }
    const withPoll = await runWorker(Polling, { definition: definition('async', { input: {}, timeoutSeconds: 30 }) });
    await withPoll.expireDeadline();
    expect(polled).toEqual([{ taskId: 't9' }]);
    expect(withPoll).toMatchObject({ status: 'completed', output: { taskId: 't9', done: true } });

    const noPoll = await runWorker({ execute: Polling.prototype.execute }, { definition: definition('async', { input: {}, timeoutSeconds: 30 }) });
    await noPoll.expireDeadline();
    expect(noPoll).toMatchObject({ status: 'failed', error: 'No callback arrived within the 30s callback deadline' });
  });
});

describe('startFakeVendor', () => {
  it('records requests, answers routes by method and path, 404s the rest', async () => {
    const vendor = await startFakeVendor({
      'GET /v1/status': (req) => ({ json: { id: req.query.id } }),
      '/v1/any': { status: 503, text: 'busy', headers: { 'retry-after': '2' } },
    });
    try {
      expect(await (await fetch(`${vendor.url}/v1/status?id=7`)).json()).toEqual({ id: '7' });
      const busy = await fetch(`${vendor.url}/v1/any`, { method: 'PUT', body: 'raw' });
      expect([busy.status, busy.headers.get('retry-after'), await busy.text()]).toEqual([503, '2', 'busy']);
      expect((await fetch(`${vendor.url}/nope`, { method: 'POST' })).status).toBe(404);
      expect(vendor.requests.map((r) => `${r.method} ${r.path} ${JSON.stringify(r.body)}`)).toEqual([
        'GET /v1/status ""',
        'PUT /v1/any "raw"',
        'POST /nope ""',
      ]);
    } finally {
      await vendor.close();
    }
  });

  it('matches path parameters (issue 25.2): exact keys first, then `:name` segments in request.params', async () => {
    const vendor = await startFakeVendor({
      'GET /v2/transcript/:id': (req) => ({ json: { id: req.params.id, status: 'completed' } }),
      'GET /v2/transcript/latest': { json: { id: 'the latest' } },
      '/v1/jobs/:job/files/:file': (req) => ({ json: req.params }),
    });
    try {
      expect(await (await fetch(`${vendor.url}/v2/transcript/fv-1`)).json()).toEqual({ id: 'fv-1', status: 'completed' });
      expect(await (await fetch(`${vendor.url}/v2/transcript/latest`)).json()).toEqual({ id: 'the latest' });
      expect(await (await fetch(`${vendor.url}/v1/jobs/j%201/files/a.txt`, { method: 'DELETE' })).json()).toEqual({ job: 'j 1', file: 'a.txt' });
      expect((await fetch(`${vendor.url}/v2/transcript/fv-1`, { method: 'POST' })).status).toBe(404); // the method is part of the key
      expect((await fetch(`${vendor.url}/v2/transcript/`)).status).toBe(404); // an empty segment is no id
      expect((await fetch(`${vendor.url}/v2/transcript/a/b`)).status).toBe(404);
      expect(vendor.requests[0].params).toEqual({ id: 'fv-1' });
    } finally {
      await vendor.close();
    }
  });

  it('tells onError of a route that throws, answers 500 and keeps serving', async () => {
    const errors: string[] = [];
    const vendor = await startFakeVendor(
      {
        'POST /boom': () => {
          throw new Error('route bug');
        },
        'GET /ok': { json: { ok: true } },
      },
      { onError: (error, request) => errors.push(`${request.path}: ${error.message}`) },
    );
    try {
      expect((await fetch(`${vendor.url}/boom`, { method: 'POST' })).status).toBe(500);
      expect((await fetch(`${vendor.url}/ok`)).status).toBe(200);
      expect(errors).toEqual(['/boom: route bug']);
    } finally {
      await vendor.close();
    }
  });
});

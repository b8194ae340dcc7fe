/**
 * The worker host (src/lib/host): under the test harness a worker reports only to the harness,
 * even inside a Stitch process whose engine runs the very node it names; and a worker in a
 * process without an engine completes a node through the HTTP host (its callback URL).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFlow } from '@/lib/engine/flows';
import { getRunWithNodes, updateNodeState } from '@/lib/db/runs';
import { startRun } from '@/lib/engine/start-run';
import { runWorker } from '@/lib/workers/testing';
import { buildCallbackUrl, logWorker, reportUsage, scheduleCallback, streamOutput, triggerCallback } from '@/lib/workers/utils';
import type { IWorker } from '@/lib/workers/base';
import { eventually, waitForRun } from '../helpers';
import { spawnTsx } from '../processes';
import { startTestServer, type TestServer } from './http';
import { openSse } from './sse-client';
import type { StreamMessage } from '@/types/stitch';
import { oneWorkerGraph, registerHttpTestWorkers } from './test-workers';

let server: TestServer;

beforeAll(async () => {
  registerHttpTestWorkers();
  server = await startTestServer();
});

afterAll(async () => {
  await server?.close();
});

/** A running async node of a fresh run (the vendor test worker waits for its callback). */
async function runningNode(): Promise<{ runId: string; rowBefore: unknown }> {
  const flow = await createFlow(`host-${Math.random()}`, oneWorkerGraph('vendor'));
  const { runId } = await startRun(flow.id, { input: { topic: 'x' } });
  const run = await eventually(async () => {
    const r = await getRunWithNodes(runId);
    // The worker stores its input as the node's output after the engine marks it running: wait
    // for both, or the row read here is a moment older than the one the test compares against.
    return r.nodes.w?.status === 'running' && r.nodes.w.output !== null && r;
  });
  return { runId, rowBefore: run.nodes.w };
}

async function sideEffects(runId: string) {
  const pool = server.stitch.db.pool;
  const usage = await pool.query('SELECT count(*)::int AS n FROM stitch_node_usage WHERE run_id = $1', [runId]);
  const callbacks = await pool.query(`SELECT count(*)::int AS n FROM graphile_worker.jobs WHERE key = stitch_job_key('callback', $1::uuid, 'w')`, [runId]);
  return { usage: usage.rows[0].n, callbacks: callbacks.rows[0].n };
}

describe('worker host', () => {
  it('under the harness, every SDK call reaches the harness and none the engine or the database', async () => {
    const { runId, rowBefore } = await runningNode();
    class Busy implements IWorker {
      async execute(r: string, n: string) {
        logWorker('info', 'working', { apiKey: 'sk-secret-value' });
        buildCallbackUrl(r, n);
        await updateNodeState(r, n, { status: 'running', output: { stored: 1 }, metadata: { progress: 0.5 } });
        await reportUsage(r, n, [{ unit: 'requests', quantity: 2 }]);
        streamOutput(r, n, 'partial ');
        streamOutput(r, n, { step: 1 });
        await scheduleCallback(r, n, { status: 'completed', output: { late: true } }, 1);
        await triggerCallback(r, n, { status: 'completed', output: { done: true } });
      }
    }
    // The ids name a real running node of this process's engine: only the host decides.
    const run = await runWorker(Busy, { runId, nodeId: 'w', definition: { id: 'busy', name: 'Busy', type: 'async', description: '', input: {}, output: {}, config: {} } });
    expect(run.status).toBe('completed');
    expect(run.output).toEqual({ stored: 1, done: true });
    expect(run.usage).toEqual([{ unit: 'requests', quantity: 2, mock: false }]);
    expect(run.scheduled).toHaveLength(1);
    expect(run.streamed).toEqual(['partial ', { step: 1 }]);
    expect(run.streamedText).toBe('partial ');
    expect(run.callbackUrl).toContain(`/api/stitch/callback/${runId}/w?token=1.`);
    expect(run.logs[0]).toMatchObject({ level: 'info', message: 'working', context: { apiKey: '[redacted]' } });

    const after = await getRunWithNodes(runId);
    expect(after.nodes.w).toEqual(rowBefore);
    expect(after.status).toBe('running');
    expect(await sideEffects(runId)).toEqual({ usage: 0, callbacks: 0 });

    // The same calls outside the harness go to this process's engine host, and the checks see them.
    await reportUsage(runId, 'w', [{ unit: 'requests', quantity: 2 }]);
    await scheduleCallback(runId, 'w', { status: 'completed', output: { late: true } }, 3600, { attempt: 1 });
    expect(await sideEffects(runId)).toEqual({ usage: 1, callbacks: 1 });
  });

  it('a worker in a process without an engine streams and completes its node through the callback URL (HTTP host)', async () => {
    const { runId } = await runningNode();
    const sse = openSse(`${server.url}/api/runs/${runId}/events`);
    await sse.opened;
    const child = spawnTsx(
      'test/fixtures/http-host-worker.ts',
      {
        RUN_ID: runId,
        NODE_ID: 'w',
        ATTEMPT: '1',
        STITCH_SECRET: 'test-secret-0123456789',
        STITCH_BASE_URL: server.url,
        DATABASE_URL: '',
        STITCH_LOG_LEVEL: 'error',
      },
      '"outside"',
    );
    await child.ready;
    expect(await child.exited).toBe(0);
    const report = JSON.parse(child.output().split('\n').find((line) => line.startsWith('{"outside"'))!);
    expect(report.outside).toMatch(/outside that node's execution, so the attempt is unknown/);
    expect(report.late).toBeNull(); // the second result was refused (409) and logged, not thrown

    const run = await waitForRun(runId);
    expect(run.status).toBe('completed');
    const { nodes } = await getRunWithNodes(runId);
    // Merged over what the vendor worker stored (its input), as any callback is.
    expect(nodes.w).toMatchObject({ status: 'completed', attempt: 1, output: { topic: 'x', echoed: { hello: 'world' }, by: 'http-host' } });
    const streamed = await eventually(async () => {
      const parts = sse.events.filter((e) => (e as { type: string }).type === 'node:stream').flatMap((e) => (e as unknown as StreamMessage).parts);
      return parts.length === 2 && parts;
    });
    expect(streamed).toEqual(['Hello from outside', { words: 3 }]);
    sse.close();
  });
});

/**
 * `stitch worker --remote <url>`: this project's registered workers served to another Stitch
 * server over the pull protocol — no database on this machine. Each pulled task runs the worker's
 * own `execute(runId, nodeId, config, input)` with a worker host of its own (src/lib/host):
 * `triggerCallback`/`updateNodeState(completed|failed)` complete or fail
 * the task, progress becomes a heartbeat, `scheduleCallback` a timer (the lease, renewed every
 * third of its length, keeps the task meanwhile; if this process dies, the lease expires and the
 * task runs again elsewhere).
 *
 * Async workers that hand a vendor `buildCallbackUrl(...)` need the server's STITCH_SECRET and
 * STITCH_BASE_URL in this process, so the URL they hand out is the server's own.
 */
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { NodeStateUpdate, WorkerCallback } from '@/types/stitch';
import { NonRetriableError, coerceError } from '@/lib/errors';
import { getConfig } from '@/lib/config';
import { signedCallbackUrl } from '@/lib/host/attempt';
import { runWithHost } from '@/lib/host/current';
import { StreamBatcher } from '@/lib/host/stream-batcher';
import type { WorkerHost } from '@/lib/host/types';
import { getLogger } from '@/lib/log';
import { getWorkerDefinition, workerRegistry } from '@/lib/workers/registry';
import '@/lib/workers/index'; // this project's workers: the ones served remotely
import { ProtocolClient, ProtocolError, type PulledTask } from './protocol-client';

export interface RemoteRunnerOptions {
  url: string;
  apiKey?: string;
  /** Types to serve (default: every registered type the server does not run itself). */
  types?: string[];
  concurrency: number;
  /** Seconds running tasks get to finish at stop() before they are handed back. */
  graceSeconds?: number;
}

export interface RemoteRunner {
  workerId: string;
  types: string[];
  stop(): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** 0.5 s doubling to 30 s, ±25 % jitter: how long to wait before the n-th reconnection attempt. */
const backoffMs = (failures: number) => Math.min(30_000, 500 * 2 ** Math.min(failures, 6)) * (0.75 + Math.random() * 0.5);

async function chooseTypes(client: ProtocolClient, requested?: string[]): Promise<string[]> {
  if (requested?.length) {
    const unknown = requested.filter((t) => !workerRegistry.has(t) || !getWorkerDefinition(t));
    if (unknown.length) throw new Error(`Not registered in this project: ${unknown.join(', ')} (see src/lib/workers/index.ts)`);
    return requested;
  }
  // The server's own (local) types would be refused: it runs those itself.
  const serverLocal = new Set((await client.catalogue()).filter((w) => !w.remote).map((w) => w.id));
  const types = workerRegistry.types().filter((t) => !serverLocal.has(t) && getWorkerDefinition(t));
  if (!types.length) throw new Error('The server already runs every worker registered in this project; nothing to serve remotely.');
  return types;
}

export async function startRemoteRunner(options: RemoteRunnerOptions): Promise<RemoteRunner> {
  const client = new ProtocolClient(options.url, options.apiKey);
  const workerId = `ts-${hostname()}-${process.pid}-${randomBytes(4).toString('hex')}`;
  const log = getLogger().child({ remote: options.url, workerId });
  const types = await chooseTypes(client, options.types);
  const register = () => client.register(workerId, types.map((t) => getWorkerDefinition(t)!));
  await register();

  const active = new Map<string, { task: PulledTask; settled: boolean; handBack: () => Promise<void> }>();
  let stopping = false;
  let slotFreed: (() => void) | undefined;

  async function runTask(task: PulledTask): Promise<void> {
    let resolveDone!: () => void;
    const done = new Promise<void>((r) => (resolveDone = r));
    const entry = { task, settled: false, handBack: async () => {} };
    // Streamed output goes to the server coalesced, and what was streamed before the result.
    const streams = new StreamBatcher((batch) => Promise.all(batch.map((b) => client.stream(task, b.seq, b.parts))).then(() => {}), {
      onSendError: (error) => log.warn({ taskId: task.taskId, error: coerceError(error).message }, 'streamed output could not be sent; it is dropped'),
    });
    const settle = async (callback: WorkerCallback, retryable = true) => {
      if (entry.settled) return;
      entry.settled = true;
      try {
        await streams.end('task');
        if (callback.status === 'completed') await client.complete(task, callback.output ?? null);
        else await client.fail(task, callback.error || 'The worker reported a failure without a message', retryable);
      } catch (error) {
        log.warn({ taskId: task.taskId, error: coerceError(error).message }, 'the server refused or missed the result; the lease decides');
      } finally {
        resolveDone();
      }
    };
    entry.handBack = () => settle({ status: 'failed', error: 'The remote worker shut down before finishing; handed back' });
    active.set(task.taskId, entry);

    const beat = (progress?: { progress?: number; message?: string }) =>
      client.heartbeat(task, progress).catch((error) => {
        if (error instanceof ProtocolError && error.taskGone) {
          log.warn({ taskId: task.taskId }, 'the server took the task back');
          entry.settled = true;
          resolveDone();
        }
      });
    const heartbeat = setInterval(() => void beat(), Math.max(500, (task.leaseSeconds * 1000) / 3));
    const host: WorkerHost = {
      current: { runId: task.runId, instanceId: task.nodeId, attempt: task.attempt, workerType: task.type },
      complete: async (_runId, _nodeId, callback) => {
        await settle(callback);
        return { ok: true };
      },
      updateNodeState: async (_runId, _nodeId, state: NodeStateUpdate) => {
        const p = state.metadata?.progress;
        const m = state.metadata?.message;
        await beat({ progress: typeof p === 'number' ? Math.min(1, Math.max(0, p)) : undefined, message: typeof m === 'string' ? m.slice(0, 500) : undefined });
      },
      // The pull protocol has no usage message: usage of remotely served workers is not recorded.
      reportUsage: async () => {},
      stream: (runId, nodeId, chunk) => {
        if (runId === task.runId && nodeId === task.nodeId) streams.push('task', chunk);
        else throw new Error(`streamOutput(${runId}, ${nodeId}) names another node than the task's`);
      },
      scheduleCallback: async (_runId, _nodeId, callback, delaySeconds) => {
        setTimeout(() => void settle(callback), delaySeconds * 1000);
      },
      // The server's own URL: this process has its STITCH_SECRET and STITCH_BASE_URL (see above).
      callbackUrl: (runId, nodeId, attempt) => signedCallbackUrl(getConfig().baseUrl, host, runId, nodeId, attempt),
      log: (level, message, context) => log[level]({ ...context, taskId: task.taskId }, message),
    };
    try {
      const worker = workerRegistry.getWorker(task.type);
      await runWithHost(host, () => worker.execute(task.runId, task.nodeId, task.config, task.input));
      if (getWorkerDefinition(task.type)?.type !== 'async' && !entry.settled) {
        await settle({ status: 'failed', error: `Worker "${task.type}" returned without calling triggerCallback (sync workers must report their result)` });
      }
    } catch (error) {
      const e = coerceError(error);
      await settle({ status: 'failed', error: e.message }, !(e instanceof NonRetriableError));
    }
    await done; // an async worker's scheduled callback, or the server taking the task back
    clearInterval(heartbeat);
    active.delete(task.taskId);
    slotFreed?.();
  }

  const pollLoop = (async () => {
    let failures = 0;
    while (!stopping) {
      const free = options.concurrency - active.size;
      if (free <= 0) {
        await new Promise<void>((r) => (slotFreed = r));
        continue;
      }
      try {
        if (failures > 0) await register(); // the server may have restarted on a fresh database
        const tasks = await client.poll(workerId, types, free);
        failures = 0;
        for (const task of tasks) {
          if (stopping) await client.fail(task, 'The remote worker was shutting down; handed back', true).catch(() => {});
          else void runTask(task);
        }
      } catch (error) {
        const delay = backoffMs(failures++);
        log.warn({ error: coerceError(error).message, retryInMs: Math.round(delay) }, 'poll failed; reconnecting');
        await sleep(delay);
      }
    }
  })();

  return {
    workerId,
    types,
    async stop() {
      stopping = true;
      slotFreed?.();
      const deadline = Date.now() + (options.graceSeconds ?? 25) * 1000;
      while (active.size > 0 && Date.now() < deadline) await sleep(100);
      await Promise.all([...active.values()].map((e) => e.handBack()));
      // The poll in flight ends with its long-poll (≤ 30 s); tasks it brings back are handed back.
      await Promise.race([pollLoop, sleep(1000)]);
    },
  };
}

/**
 * The queue runner: graphile-worker executing Stitch's jobs, plus the liveness layer graphile 0.17
 * lacks. Each runner writes a heartbeat row naming its worker pools; any live runner deletes the
 * rows of runners silent for longer than `staleRunnerSeconds` and force-unlocks their jobs, so a
 * killed process's work runs again within seconds instead of graphile's 4 hours.
 */
import { EventEmitter } from 'node:events';
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { Logger, run, type Runner, type Task, type WorkerEvents } from 'graphile-worker';
import type pg from 'pg';
import { getLogger } from '@/lib/log';
import { completeNode } from './complete-node';
import { deadlineJob } from './deadline';
import { executeNodeJob, type ExecutePayload } from './execute-node';
import type { ScheduledCallbackPayload } from './scheduled-callback';
import { cancelChildJob, childSettledJob, type ChildSettledPayload } from './sub-flow';
import { uxDeadlineJob } from './ux-gate';

export interface QueueRunnerOptions {
  pool: pg.Pool;
  concurrency: number;
  heartbeatSeconds: number;
  staleRunnerSeconds: number;
  /** How often to look for jobs scheduled in the future (retries, deadlines, waits), ms. */
  pollIntervalMs?: number;
  /**
   * graphile-worker's local queue: jobs fetched (and locked) per query. Batching the fetch is what
   * lets a hop cost close to one queue job; the price — jobs locked by a process that dies — is paid
   * back within `staleRunnerSeconds` by the sweeper. 0 disables it.
   */
  fetchBatchSize?: number;
}

export interface QueueRunner {
  id: string;
  stop(): Promise<void>;
}

const tasks: Record<string, Task> = {
  stitch_execute: (payload, helpers) => executeNodeJob(payload as ExecutePayload, helpers.job.id),
  stitch_deadline: (payload) => deadlineJob(payload as ExecutePayload),
  stitch_ux_deadline: (payload) => uxDeadlineJob(payload as ExecutePayload),
  stitch_child_settled: (payload) => childSettledJob(payload as ChildSettledPayload),
  stitch_cancel_run: (payload) => cancelChildJob(payload as { r: string }),
  stitch_callback: async (payload) => {
    const p = payload as ScheduledCallbackPayload;
    try {
      await completeNode({ runId: p.r, instanceId: p.i, attempt: p.a, ...p.cb });
    } catch (error) {
      // A scheduled callback for a node that moved on (cancelled, retried) is dropped, not retried.
      if ((error as { code?: string }).code !== 'conflict' && (error as { code?: string }).code !== 'not_found') throw error;
    }
  },
};

/** Route graphile-worker's logs into Stitch's logger at debug (errors stay errors). */
const graphileLogger = new Logger((scope) => (level, message, meta) => {
  const log = getLogger();
  if (level === 'error') log.error({ scope, ...meta }, message);
  else if (level === 'warning') log.warn({ scope, ...meta }, message);
  else log.debug({ scope }, message);
});

export async function startQueueRunner(options: QueueRunnerOptions): Promise<QueueRunner> {
  const id = `runner-${hostname()}-${process.pid}-${randomBytes(4).toString('hex')}`;
  const poolIds: string[] = [];
  const events = new EventEmitter() as WorkerEvents;
  events.on('pool:create', ({ workerPool }) => poolIds.push(workerPool.id));

  const beat = async () => {
    await options.pool.query(
      `INSERT INTO stitch_runners (id, pool_ids, hostname, pid) VALUES ($1, $2, $3, $4)
       ON CONFLICT (id) DO UPDATE SET last_seen_at = now(), pool_ids = excluded.pool_ids`,
      [id, poolIds, hostname(), process.pid],
    );
  };
  const sweep = async () => {
    // DELETE … RETURNING: concurrent sweepers each unlock a dead runner's jobs at most once.
    const { rows } = await options.pool.query<{ n: number }>(
      `WITH dead AS (
         DELETE FROM stitch_runners WHERE last_seen_at < now() - make_interval(secs => $1) AND id <> $2
         RETURNING id, pool_ids
       ), unlocked AS (
         SELECT graphile_worker.force_unlock_workers(array(SELECT unnest(pool_ids) FROM dead)) FROM dead LIMIT 1
       )
       SELECT (SELECT count(*) FROM dead)::int AS n, (SELECT count(*) FROM unlocked)::int AS u`,
      [options.staleRunnerSeconds, id],
    );
    if (rows[0].n > 0) getLogger().warn({ runners: rows[0].n }, 'released the jobs of runners that stopped sending heartbeats');
  };

  const runner: Runner = await run({
    pgPool: options.pool,
    taskList: tasks,
    concurrency: options.concurrency,
    noHandleSignals: true,
    pollInterval: options.pollIntervalMs ?? 1000,
    logger: graphileLogger,
    events,
    preset: {
      worker: {
        ...(options.fetchBatchSize ? { localQueue: { size: Math.max(options.fetchBatchSize, options.concurrency) } } : {}),
        // Completions are already durable in the node's own commit (settle completes the job), so
        // graphile's follow-up delete finds nothing: batching those costs no safety.
        completeJobBatchDelay: 0,
      },
    },
  });
  await beat();
  let ticking = false;
  const timer = setInterval(() => {
    if (ticking) return;
    ticking = true;
    beat()
      .then(sweep)
      .catch((error) => getLogger().warn({ error: String(error) }, 'runner heartbeat failed'))
      .finally(() => (ticking = false));
  }, options.heartbeatSeconds * 1000);
  timer.unref();

  return {
    id,
    async stop() {
      clearInterval(timer);
      await runner.stop();
      await options.pool.query('DELETE FROM stitch_runners WHERE id = $1', [id]).catch(() => {});
    },
  };
}

/**
 * The queue runner: graphile-worker executing Stitch's jobs, supervised. Liveness (heartbeat
 * thread, sweeper of dead runners) is in liveness.ts; this module restarts graphile's worker pool
 * after a database outage and gives up — stops beating, `failed` resolves — only when the database
 * stays away longer than `databaseWaitSeconds`.
 */
import { EventEmitter } from 'node:events';
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { Logger, run, type Runner, type Task, type WorkerEvents } from 'graphile-worker';
import { coerceError } from '@/lib/errors';
import { isInfrastructureError } from '@/lib/db/transient';
import { getLogger } from '@/lib/log';
import { deleteRunner } from '@/lib/db/queries/runners';
import { DatabaseView, releaseOwnPools, startHeartbeat, sweepDeadRunners } from './liveness';
import { completeNode } from './complete-node';
import { deadlineJob } from './deadline';
import { executeWithSuccessors, requeueLeases, type Dispatcher } from './eager-dispatch';
// Every task works on one node attempt and is guarded: see job-guard.ts (every run ends).
import { attemptOf, type ExecutePayload } from './execute-payload';
import { guardJob } from './job-guard';
import { experimentTickJob, type ExperimentTickPayload } from '@/lib/experiments/tick';
import { remoteLeaseJob } from './remote-tasks';
import { fairDispatchJob } from '@/lib/fair/limits';
import type { ScheduledCallbackPayload } from './scheduled-callback';
import { cancelChildJob, childSettledJob, type ChildSettledPayload } from './sub-flow';
import { uxDeadlineJob } from './ux-gate';
import { scheduleTickJob, type ScheduleTickPayload } from '@/lib/schedules/tick';
import { bulkBatchJob } from '@/lib/runs/bulk-job';
import { pruneJob, schedulePruning } from '@/lib/runs/retention';
import { alertJob, slowAlertJob, type AlertJobPayload, type SlowAlertPayload } from '@/lib/alerts/deliver';
import type { Runtime } from '@/lib/runtime';

export interface QueueRunnerOptions {
  /** The started Stitch's runtime: its pool runs the queue, and the execute path gets it whole. */
  runtime: Runtime;
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
  /** The database URL, for the heartbeat thread's own connection. */
  url: string;
  /** How long a runner waits for a database that went away before it gives up. */
  databaseWaitSeconds: number;
  /** Run claimed cheap successors in the same task (eager-dispatch.ts). Default true; false for comparisons. */
  eagerDispatch?: boolean;
}

export interface QueueRunner {
  id: string;
  stop(): Promise<void>;
  /**
   * Resolves (with the reason) if the runner can no longer run jobs — the database stayed away
   * longer than `databaseWaitSeconds` — after it stopped beating. The CLI then exits non-zero.
   */
  failed: Promise<Error>;
}


/** The task list of one runner: its execute jobs run their claimed successors (eager-dispatch.ts). */
const taskList = (dispatch: Dispatcher, runtime: Runtime): Record<string, Task> => ({
  stitch_execute: (payload, helpers) => executeWithSuccessors(payload as ExecutePayload, helpers.job.id, dispatch, runtime),
  stitch_deadline: (payload) => guardJob('stitch_deadline', attemptOf(payload as ExecutePayload), () => deadlineJob(runtime, payload as ExecutePayload)),
  stitch_ux_deadline: (payload) => guardJob('stitch_ux_deadline', attemptOf(payload as ExecutePayload), () => uxDeadlineJob(payload as ExecutePayload)),
  stitch_child_settled: (payload) => {
    const p = payload as ChildSettledPayload;
    return guardJob('stitch_child_settled', { runId: p.r, instanceId: p.i, attempt: p.a }, () => childSettledJob(p));
  },
  stitch_cancel_run: (payload) => cancelChildJob(payload as { r: string }),
  // Fair share: grant what waits for a concurrency or rate slot (a scope's sweep, or a run's end).
  stitch_fair_dispatch: (payload) => fairDispatchJob(payload as { s: string; k?: string | null }),
  // A schedule's tick: starts a run (through startRun) and places the next tick's job.
  stitch_remote_lease: (payload) => remoteLeaseJob(payload as { t: string }),
  stitch_schedule: (payload, helpers) => scheduleTickJob(payload as ScheduleTickPayload, new Date(), helpers.job.created_at),
  // An experiment's step: score what ended, start what fits, stop at its budget (src/lib/experiments).
  stitch_experiment: (payload) => experimentTickJob(payload as ExperimentTickPayload),
  // One batch of a bulk action on runs (cancel, retry, re-run), each through the engine's own path.
  stitch_bulk: (payload) => bulkBatchJob(payload as { b: string }),
  // One batch of retention's pruning, which places the next pass (src/lib/runs/retention.ts).
  stitch_prune: () => pruneJob(runtime),
  // Alerts (src/lib/alerts): a message for what is pending on one alert; a run.slower_than check.
  stitch_alert: (payload, helpers) => alertJob(runtime, payload as AlertJobPayload, helpers.job),
  stitch_alert_slow: (payload) => slowAlertJob(runtime, payload as SlowAlertPayload),
  stitch_callback: (payload) => {
    const p = payload as ScheduledCallbackPayload;
    return guardJob('stitch_callback', { runId: p.r, instanceId: p.i, attempt: p.a }, async () => {
      try {
        await completeNode({ runId: p.r, instanceId: p.i, attempt: p.a, ...p.cb });
      } catch (error) {
        // A scheduled callback for a node that moved on (cancelled, retried) is dropped, not retried.
        const code = (error as { code?: string }).code;
        if (code !== 'conflict' && code !== 'not_found') throw error;
      }
    });
  },
});

/**
 * Route graphile-worker's logs into Stitch's logger at debug (errors stay errors). A failed
 * UNLISTEN is not one: it happens when the connection is already gone (a stop, a database
 * restart), and its LISTEN went with it.
 */
const graphileLogger = new Logger((scope) => (level, message, meta) => {
  const log = getLogger();
  if (level === 'error' && /attempting to UNLISTEN/.test(message)) log.debug({ scope }, message);
  else if (level === 'error') log.error({ scope, ...meta }, message);
  else if (level === 'warning') log.warn({ scope, ...meta }, message);
  else log.debug({ scope }, message);
});

/** How long a pool that began shutting down on its own may take before it counts as lost. */
const SHUTDOWN_WATCHDOG_MS = 15_000;

export async function startQueueRunner(options: QueueRunnerOptions): Promise<QueueRunner> {
  const id = `runner-${hostname()}-${process.pid}-${randomBytes(4).toString('hex')}`;
  const log = getLogger();
  let stopping = false;
  const dispatch: Dispatcher = { runnerId: id, active: () => !stopping && options.eagerDispatch !== false, held: new Set() };
  const tasks = taskList(dispatch, options.runtime);
  const view = new DatabaseView();
  const heartbeat = startHeartbeat({
    url: options.url,
    runnerId: id,
    heartbeatSeconds: options.heartbeatSeconds,
    maxStallSeconds: options.staleRunnerSeconds * 10,
    onBeat: (ok) => view.observe(ok),
  });

  /**
   * Generations: graphile's worker pool shuts itself down when it cannot record a job's outcome
   * (the database went away mid-job). Its pool ids are then "retired": their jobs stay locked until
   * this runner, once the database answers again, force-unlocks them and starts a new generation.
   */
  let current: Runner | undefined;
  let currentPools: string[] = [];
  let retired: string[] = [];
  let fail!: (error: Error) => void;
  const failed = new Promise<Error>((resolve) => (fail = resolve));
  const publish = () => heartbeat.setPoolIds([...currentPools, ...retired]);
  /** Wait (bounded) until the heartbeat row names the current pools. */
  const published = () => Promise.race([publish(), new Promise<void>((resolve) => setTimeout(resolve, 10_000).unref())]);

  const startGeneration = async () => {
    const pools: string[] = [];
    const events = new EventEmitter() as WorkerEvents;
    events.on('pool:create', ({ workerPool }) => {
      pools.push(workerPool.id);
      currentPools = pools;
      void publish();
    });
    // A pool that starts shutting down on its own (it could not record a job's outcome) and never
    // finishes would stop fetching yet keep this runner beating, so nobody would release its jobs
    // (seen once in chaos R5). Past the watchdog it is treated as lost: retired and replaced.
    let settled = false;
    const watch = (reason: string) => {
      if (stopping) return;
      setTimeout(() => {
        if (!settled && current === runner) lost(runner, pools, new Error(reason));
      }, SHUTDOWN_WATCHDOG_MS).unref();
    };
    events.on('pool:gracefulShutdown', ({ message }) => watch(`graceful shutdown did not finish: ${message}`));
    events.on('pool:gracefulShutdown:error', ({ error }) => watch(`graceful shutdown failed: ${String(error)}`));
    const runner = await run({
      pgPool: options.runtime.pool,
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
          // Batched failures too: unbatched, a failure that cannot be written (the database is
          // gone) is an unhandled rejection in graphile 0.17 that kills the process; batched, the
          // pool shuts down and this runner starts a new one when the database is back.
          failJobBatchDelay: 0,
        },
      },
    });
    current = runner;
    currentPools = pools;
    await published();
    runner.promise.then(
      () => {
        settled = true;
        lost(runner, pools);
      },
      (error) => {
        settled = true;
        lost(runner, pools, error);
      },
    );
  };

  const lost = (runner: Runner, pools: string[], error?: unknown) => {
    if (stopping || runner !== current) return;
    log.warn({ error: error === undefined ? undefined : String(error) }, 'the queue runner lost its database; it restarts when the database is back');
    retired = [...retired, ...pools];
    current = undefined;
    currentPools = [];
    void publish();
    void restart();
  };

  const restart = async () => {
    const giveUpAt = Date.now() + options.databaseWaitSeconds * 1000;
    for (let delay = 200; !stopping; delay = Math.min(delay * 2, 5000)) {
      await new Promise((resolve) => setTimeout(resolve, delay));
      try {
        await releaseOwnPools(options.runtime.pool, retired);
        retired = [];
        void publish();
        await startGeneration();
        log.info({ runner: id }, 'the queue runner is running again');
        return;
      } catch (error) {
        if (isInfrastructureError(error) && Date.now() < giveUpAt) continue;
        await giveUp(coerceError(error));
        return;
      }
    }
  };

  /** The runner can no longer run jobs: stop beating at once (others release its jobs), say so. */
  const giveUp = async (error: Error) => {
    stopping = true;
    clearInterval(sweeper);
    await heartbeat.stop();
    log.fatal({ error }, 'the queue runner cannot run jobs any more and has stopped');
    fail(error);
  };

  await startGeneration();
  await schedulePruning(options.runtime).catch((error) => log.warn({ error: String(error) }, 'could not place the retention job'));
  let sweeping = false;
  const sweeper = setInterval(() => {
    // Judge others' heartbeats only once this runner has itself seen the database for as long.
    if (sweeping || stopping || !view.seenFor(options.staleRunnerSeconds)) return;
    sweeping = true;
    sweepDeadRunners(options.runtime.pool, id, options.staleRunnerSeconds)
      .then(() => requeueLeases(options.runtime.pool, dispatch))
      .catch((error) => log.warn({ error: String(error) }, 'sweep of dead runners failed'))
      .finally(() => (sweeping = false));
  }, options.heartbeatSeconds * 1000);
  sweeper.unref();

  return {
    id,
    failed,
    async stop() {
      stopping = true;
      clearInterval(sweeper);
      await current?.stop();
      await heartbeat.stop();
      await deleteRunner(options.runtime.pool, id).catch(() => {});
    },
  };
}

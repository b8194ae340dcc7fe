/**
 * Liveness of queue runners, the layer graphile-worker 0.17 lacks (it frees a dead process's jobs
 * only after 4 hours).
 *
 * - `startHeartbeat`: a worker thread with its own connection writes this runner's row in
 *   `stitch_runners` every `heartbeatSeconds`, naming the graphile worker pools whose jobs it holds.
 *   A stalled main event loop keeps beating (A.7); a runner that can no longer run jobs stops at
 *   once (`stop()`), and so does a main loop stalled for more than `maxStallSeconds`.
 * - `sweepDeadRunners`: any live runner deletes the rows of runners silent for longer than
 *   `staleRunnerSeconds` and force-unlocks their jobs, so they run again elsewhere within seconds.
 *   Staleness is judged only while the sweeper itself has seen the database for that long: after an
 *   outage every heartbeat is old because the database was gone, not because the runners were.
 */
import { hostname } from 'node:os';
import { Worker } from 'node:worker_threads';
import type pg from 'pg';
import { getLogger } from '@/lib/log';
import { forceUnlockPools, sweepDeadRunners as sweepRunners } from '@/lib/db/queries/runners';

export interface Heartbeat {
  /**
   * The graphile worker pools this runner holds jobs of: written at once by the thread; resolves
   * when a beat naming them is in the database.
   */
  setPoolIds(ids: string[]): Promise<void>;
  /** Stop beating now (the runner can no longer run jobs) and end the thread. */
  stop(): Promise<void>;
}

export interface HeartbeatOptions {
  url: string;
  runnerId: string;
  heartbeatSeconds: number;
  /** A main loop silent this long is presumed wedged: the thread stops beating (default 10 × stale). */
  maxStallSeconds: number;
  /** Each beat's outcome (true: written), for the sweeper's view of the database. */
  onBeat?: (ok: boolean) => void;
}

export function startHeartbeat(options: HeartbeatOptions): Heartbeat {
  const shared = new Int32Array(new SharedArrayBuffer(8));
  Atomics.store(shared, 0, 1);
  const tick = () => Atomics.store(shared, 1, Math.floor(Date.now() / 1000));
  tick();
  // The main thread's tick: stops advancing while its event loop is blocked.
  const ticker = setInterval(tick, 500);
  ticker.unref();
  const thread = new Worker(new URL('./heartbeat-thread.mjs', import.meta.url), {
    workerData: {
      url: options.url,
      id: options.runnerId,
      hostname: hostname(),
      pid: process.pid,
      intervalMs: options.heartbeatSeconds * 1000,
      maxStallMs: options.maxStallSeconds * 1000,
      shared: shared.buffer,
    },
  });
  thread.unref();
  let seq = 0;
  const waiting: Array<{ seq: number; resolve: () => void }> = [];
  thread.on('message', (m: { beat?: boolean; seq?: number; failed?: string }) => {
    if (m.failed) getLogger().warn({ error: m.failed }, 'runner heartbeat failed');
    options.onBeat?.(m.beat === true);
    if (m.beat) {
      for (const w of waiting.splice(0)) {
        if (w.seq <= (m.seq ?? 0)) w.resolve();
        else waiting.push(w);
      }
    }
  });
  thread.on('error', (error) => getLogger().error({ error }, 'heartbeat thread failed'));
  return {
    setPoolIds(ids) {
      seq += 1;
      thread.postMessage({ poolIds: ids, seq });
      return new Promise<void>((resolve) => waiting.push({ seq, resolve }));
    },
    async stop() {
      Atomics.store(shared, 0, 0);
      clearInterval(ticker);
      await thread.terminate();
    },
  };
}

/** Tracks how long the sweeper has seen the database without a break. */
export class DatabaseView {
  #since: number | undefined = Date.now();

  /** Record one heartbeat's outcome. */
  observe(ok: boolean): void {
    if (!ok) this.#since = undefined;
    else this.#since ??= Date.now();
  }

  /** True when the database has answered for at least `seconds` in a row. */
  seenFor(seconds: number): boolean {
    return this.#since !== undefined && Date.now() - this.#since >= seconds * 1000;
  }
}

/**
 * Delete the rows of runners silent longer than `staleSeconds` and force-unlock their jobs; also
 * unlock jobs locked longer than that by a worker pool that no runner's row names (a process killed
 * between its pool's first fetch and the heartbeat that names the pool). Logs what it released.
 */
export async function sweepDeadRunners(pool: pg.Pool, selfId: string, staleSeconds: number): Promise<number> {
  const swept = await sweepRunners(pool, selfId, staleSeconds);
  if (swept.runners > 0) getLogger().warn({ runners: swept.runners }, 'released the jobs of runners that stopped sending heartbeats');
  if (swept.orphanPools > 0) getLogger().warn({ pools: swept.orphanPools }, 'released jobs locked by worker pools no runner names');
  return swept.runners;
}

/** Unlock the jobs of this process's own worker pools that died (their work runs again). */
export async function releaseOwnPools(pool: pg.Pool, poolIds: string[]): Promise<void> {
  if (poolIds.length) await forceUnlockPools(pool, poolIds);
}

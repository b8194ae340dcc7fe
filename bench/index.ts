/**
 * `npm run bench`: Stitch's engine against its baseline, raw graphile-worker, on one database in one
 * run. Prints figures as it goes; the last line is one JSON object with every figure.
 *
 *   queue_jobs_per_s  raw graphile-worker 0.17.3 draining no-op jobs added up front (concurrency 10)
 *   queue_chained_jobs_per_s  the same, each job adding the next (5 a chain): the queue's own cost of a hop
 *   nodes_per_s       Stitch node executions/s: many concurrent runs of a 5-node chain of no-op sync workers
 *   ratio             nodes_per_s / queue_jobs_per_s (target ≥ 0.5); ratio_chained: ÷ queue_chained_jobs_per_s (≥ 1)
 *   wal_kb_per_node   WAL bytes written per node execution in the nodes_per_s phase (pg_current_wal_lsn)
 *   hop_p50_ms/p99    unloaded hop latency: a sync node's completion committed → the next node's execute starts
 *   remote_pickup_ms  median, remote task ready → a long-polling remote worker has it (bench/remote.ts)
 *   rerun_10k_s       incremental re-run of the 10k fan-out, only the node after the collector changed (bench/fanout.ts)
 *   cache_hit_hop_ms  p50, a node's completion → the next node (a step-cache hit) completed (bench/cache.ts)
 *   experiment_shared_ratio  executions of 100 rows × 2 variants sharing all but the last node ÷ (100 × nodes + 100), target 1.0 (bench/experiment.ts)
 *   nodes_per_s_limited  nodes_per_s with a per-key concurrency on the flow that never binds; limited_ratio
 *                     = ÷ nodes_per_s (target ≥ 0.9)
 *   fair_wait_p50_ms/p99  key B's run start while key A floods with 2,000 runs, concurrency 4 per key
 *                     (bench/fair.ts; target p99 ≤ 10 × fair_unloaded_start_ms)
 *   stream_chunk_ms   p50 (and _p99), streamOutput → the part parsed by an SSE client; stream_rows_per_1000_chunks:
 *                     rows a run streaming 1,000 chunks writes beyond the same run without (bench/stream.ts)
 *
 * BENCH_CORE=1 stops after the queue and chain phases (no fan-out, cache and remote phases): for quick comparisons.
 * BENCH_PRUNE=1 measures retention instead: the chain phase twice over a database holding
 * BENCH_PRUNE_EVENTS (1,000,000) events of 60-day-old runs — once as it is, once while retention
 * prunes those runs in its batches (src/lib/runs/retention.ts) — and prints both phases' nodes/s and
 * hop p99 with their ratios (targets: nodes/s ≥ 0.8 ×, hop p99 ≤ 2 ×) and the pruning rate.
 * BENCH_EAGER=0 runs the Stitch phase without eager dispatch (every hop a queue job), for comparison.
 * Uses DATABASE_URL when set, else a fresh embedded PostgreSQL in a temporary directory (bench-db.ts).
 * BENCH_PSS=1 (with a server that preloads pg_stat_statements) prints where the chain phase spends
 * PostgreSQL's time, statement by statement.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { createBenchDatabase, openBenchServer } from './bench-db';
import { Logger, run as runGraphile, runMigrations } from 'graphile-worker';
import type { NodeConfig } from '@/types/stitch';
import { getConfig } from '@/lib/config';
import { createFlow } from '@/lib/engine/flows';
import { getPool } from '@/lib/db/pool';
import { startRun } from '@/lib/engine/start-run';
import { startQueueRunner } from '@/lib/engine/runner';
import { startStitch } from '@/lib/stitch';
import { WORKER_DEFINITIONS, workerRegistry } from '@/lib/workers/registry';
import { pruneBatch } from '@/lib/runs/retention';
import { triggerCallback } from '@/lib/workers/utils';

const CONCURRENCY = 10;
const QUEUE_JOBS = Number(process.env.BENCH_QUEUE_JOBS ?? 20_000);
const CHAIN_RUNS = Number(process.env.BENCH_CHAIN_RUNS ?? 1_000);
const HOP_RUNS = Number(process.env.BENCH_HOP_RUNS ?? 200);
/** Jobs per queue fetch for Stitch's runner (default: Stitch's own default, STITCH_FETCH_BATCH). */
const FETCH_BATCH = process.env.BENCH_FETCH_BATCH === undefined ? undefined : Number(process.env.BENCH_FETCH_BATCH);
const quiet = new Logger(() => () => {});

const started = new Map<string, number>();
const finished = new Map<string, number>();

/** The benchmark's no-op sync worker; records when it starts and when its completion committed. */
class NoopWorker {
  async execute(runId: string, nodeId: string, _config: NodeConfig, input: unknown) {
    if (recordTimes) started.set(`${runId}/${nodeId}`, performance.now());
    await triggerCallback(runId, nodeId, { status: 'completed', output: input });
    if (recordTimes) finished.set(`${runId}/${nodeId}`, performance.now());
    // The last node's settle committed: its run completed in that statement.
    if (nodeId === CHAIN[CHAIN.length - 1]) lastNodes.settled();
  }
}
let recordTimes = false;

/**
 * Counts the chain's last nodes as their settles return, so the throughput phase ends when the last
 * run completes, observed in this process as the queue phase observes its last job (no polling).
 */
const lastNodes = {
  count: 0,
  target: Infinity,
  done: () => {},
  settled() {
    if (++this.count === this.target) this.done();
  },
  until(target: number): Promise<void> {
    this.count = 0;
    this.target = target;
    return new Promise((resolve) => (this.done = resolve));
  },
};

/**
 * CPU seconds spent by this process and by the PostgreSQL backends serving `database`: a cost that,
 * unlike wall time, does not move when other work shares the machine's two cores.
 */
async function cpuSeconds(pool: pg.Pool): Promise<number> {
  const { rows } = await pool.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE datname = current_database()');
  const ticks = Number(process.env.CLK_TCK ?? 100);
  let backend = 0;
  for (const { pid } of rows) {
    try {
      const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
      backend += (Number(fields[11]) + Number(fields[12])) / ticks; // utime + stime
    } catch {
      // A backend that exited meanwhile; its time is lost from both sides alike.
    }
  }
  const own = process.cpuUsage();
  return backend + (own.user + own.system) / 1e6;
}

/** WAL written so far by the whole server (the bench database is the only one busy). */
async function walBytes(pool: pg.Pool): Promise<number> {
  const { rows } = await pool.query<{ b: string }>(`SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::text AS b`);
  return Number(rows[0].b);
}

/** A byte position as PostgreSQL writes an LSN. */
const lsn = (bytes: number) => `${Math.floor(bytes / 2 ** 32).toString(16).toUpperCase()}/${(bytes % 2 ** 32).toString(16).toUpperCase()}`;

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

const round = (n: number, digits = 1) => Number(n.toFixed(digits));

/**
 * Baseline: graphile-worker alone, same database, same concurrency. `chained`: like a Stitch chain,
 * each job adds the next one itself (5 jobs a chain), so the queue's insert cost is counted too;
 * otherwise every job is added up front and only fetch + complete are measured.
 */
async function benchQueue(url: string, chained: boolean): Promise<{ perSecond: number; cpuMsPerJob: number }> {
  const pool = new pg.Pool({ connectionString: url, max: CONCURRENCY + 10 });
  pool.on('error', () => {});
  await runMigrations({ pgPool: pool, logger: quiet });
  const firstJobs = chained ? QUEUE_JOBS / CHAIN.length : QUEUE_JOBS;
  for (let i = 0; i < firstJobs; i += 5000) {
    const n = Math.min(5000, firstJobs - i);
    await pool.query(
      `SELECT graphile_worker.add_jobs(array(SELECT ROW('noop', $2::json, NULL, NULL, 1, NULL, NULL, NULL)::graphile_worker.job_spec FROM generate_series(1, $1)))`,
      [n, JSON.stringify({ left: chained ? CHAIN.length - 1 : 0 })],
    );
  }
  let done = 0;
  let resolveAll!: () => void;
  const all = new Promise<void>((r) => (resolveAll = r));
  const t0 = performance.now();
  const cpu0 = await cpuSeconds(pool);
  const runner = await runGraphile({
    pgPool: pool,
    concurrency: CONCURRENCY,
    noHandleSignals: true,
    pollInterval: 1000,
    logger: quiet,
    taskList: {
      noop: async (payload, helpers) => {
        const left = (payload as { left: number }).left;
        if (left > 0) await helpers.addJob('noop', { left: left - 1 }, { maxAttempts: 1 });
        if (++done === QUEUE_JOBS) resolveAll();
      },
    },
  });
  await all;
  const seconds = (performance.now() - t0) / 1000;
  const cpu = (await cpuSeconds(pool)) - cpu0;
  await runner.stop();
  await pool.query('DELETE FROM graphile_worker._private_jobs');
  await pool.end();
  return { perSecond: QUEUE_JOBS / seconds, cpuMsPerJob: (cpu * 1000) / QUEUE_JOBS };
}

async function waitForRuns(runIds: string[]): Promise<void> {
  for (;;) {
    const { rows } = await getPool().query<{ n: number }>(
      `SELECT count(*)::int AS n FROM stitch_runs WHERE id = ANY ($1) AND status IN ('running', 'pending')`,
      [runIds],
    );
    if (rows[0].n === 0) return;
    await new Promise((r) => setTimeout(r, 20));
  }
}

const CHAIN = ['n1', 'n2', 'n3', 'n4', 'n5'];

const chainGraph = () => ({
  nodes: CHAIN.map((id, i) => ({ id, type: 'worker', position: { x: i * 200, y: 0 }, data: { workerType: 'bench-noop' } })),
  edges: CHAIN.slice(1).map((id, i) => ({ id: `e${i}`, source: CHAIN[i], target: id })),
});

type BenchStitch = Awaited<ReturnType<typeof startStitch>>;

/**
 * Throughput: CHAIN_RUNS runs of `flowId` created first (like the queue's jobs, `tagsOf` giving each
 * its tags), then one runner drains them. The runner is left running for the caller.
 */
async function drainChain(stitch: BenchStitch, config: ReturnType<typeof getConfig>, flowId: string, tagsOf?: (i: number) => Record<string, string>) {
  const runIds: string[] = [];
  for (let i = 0; i < CHAIN_RUNS; i += 50) {
    runIds.push(
      ...(await Promise.all(Array.from({ length: Math.min(50, CHAIN_RUNS - i) }, (_, k) => startRun(flowId, { input: { i }, tags: tagsOf?.(i + k) })))).map((r) => r.runId),
    );
  }
  const allSettled = lastNodes.until(CHAIN_RUNS);
  // CPU and WAL from before the runner starts: it executes nodes well before startQueueRunner returns.
  const cpu0 = await cpuSeconds(stitch.db.pool);
  const wal0 = await walBytes(stitch.db.pool);
  const t0 = performance.now();
  const runner = await startQueueRunner({
    runtime: stitch.runtime,
    concurrency: CONCURRENCY,
    heartbeatSeconds: 5,
    staleRunnerSeconds: 30,
    url: stitch.db.url,
    databaseWaitSeconds: 60,
    pollIntervalMs: 1000,
    fetchBatchSize: FETCH_BATCH ?? config.fetchBatchSize,
    eagerDispatch: process.env.BENCH_EAGER !== '0',
  });
  await allSettled;
  const nodesPerSecond = (CHAIN_RUNS * CHAIN.length) / ((performance.now() - t0) / 1000);
  const cpuMsPerNode = (((await cpuSeconds(stitch.db.pool)) - cpu0) * 1000) / (CHAIN_RUNS * CHAIN.length);
  const wal1 = await walBytes(stitch.db.pool);
  await waitForRuns(runIds); // every run is completed (a check, outside the timed phase)
  return { runner, nodesPerSecond, cpuMsPerNode, walKbPerNode: (wal1 - wal0) / 1024 / (CHAIN_RUNS * CHAIN.length), wal0, wal1 };
}

const PRUNE_EVENTS = Number(process.env.BENCH_PRUNE_EVENTS ?? 1_000_000);
/** Events per seeded old run (a run of a few nodes with progress events). */
const EVENTS_PER_OLD_RUN = 100;

/** Finished runs of the chain flow from 60 days ago, each with its node rows and events. */
async function seedOldRuns(pool: pg.Pool, flowId: string, events: number): Promise<void> {
  const runs = Math.ceil(events / EVENTS_PER_OLD_RUN);
  await pool.query(
    `INSERT INTO stitch_runs (flow_id, version_id, status, created_at, started_at, finished_at)
     SELECT f.id, f.current_version_id, 'completed', now() - interval '60 days', now() - interval '60 days', now() - interval '60 days'
     FROM stitch_flows f, generate_series(1, $2) WHERE f.id = $1`,
    [flowId, runs],
  );
  await pool.query(
    `INSERT INTO stitch_node_runs (run_id, instance_id, node_id, status, output, finished_at)
     SELECT r.id, n, n, 'completed', '{"ok": true}', r.finished_at FROM stitch_runs r, unnest($1::text[]) n WHERE r.finished_at < now() - interval '30 days'`,
    [CHAIN],
  );
  await pool.query(
    `INSERT INTO stitch_events (run_id, instance_id, type, payload, created_at)
     SELECT r.id, 'n1', 'node:progress', jsonb_build_object('i', g), r.finished_at
     FROM stitch_runs r, generate_series(1, $1) g WHERE r.finished_at < now() - interval '30 days'`,
    [EVENTS_PER_OLD_RUN],
  );
  await pool.query('VACUUM ANALYZE stitch_runs, stitch_node_runs, stitch_events');
}

/** Retention pruning every old run, batch after batch, until done or stopped. */
function startPruner(stitch: BenchStitch) {
  const parts = { config: { retention: { policy: { completed: 30 }, batch: 50, intervalSeconds: 3600 } }, pool: stitch.runtime.pool, storage: stitch.runtime.storage };
  let stopped = false;
  const t0 = performance.now();
  const done = (async () => {
    let events = 0;
    while (!stopped) {
      const counts = await pruneBatch(parts);
      events += counts.events;
      if (counts.runs === 0) break;
    }
    return { events, seconds: (performance.now() - t0) / 1000 };
  })();
  return { stop: () => ((stopped = true), done) };
}

async function benchStitch(url: string, options: { seedOldEvents?: number; prune?: boolean } = {}) {
  WORKER_DEFINITIONS['bench-noop'] = {
    id: 'bench-noop',
    name: 'No-op',
    type: 'sync',
    description: 'benchmark no-op',
    input: {},
    output: {},
    config: {},
  };
  workerRegistry.register('bench-noop', NoopWorker);
  const config = getConfig({ ...process.env, DATABASE_URL: url, STITCH_LOG_LEVEL: 'error', STITCH_SECRET: 'bench' });
  const stitch = await startStitch({ config, runner: false, concurrency: CONCURRENCY });
  const flow = await createFlow(options.prune ? 'bench-chain-pruned' : 'bench-chain', chainGraph());
  if (options.seedOldEvents) await seedOldRuns(stitch.db.pool, flow.id, options.seedOldEvents);

  if (process.env.BENCH_PSS) await stitch.db.pool.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements; SELECT pg_stat_statements_reset(); SELECT pg_stat_reset()');
  const pruner = options.prune ? startPruner(stitch) : undefined;
  const t0 = performance.now();
  const plain = await drainChain(stitch, config, flow.id);
  const { runner } = plain;
  const { nodesPerSecond, cpuMsPerNode, walKbPerNode } = plain;
  // With BENCH_PSS, the phase's WAL range, for `pg_waldump --stats=record -s START -e END`.
  if (process.env.BENCH_PSS) console.log(`chain phase WAL: ${lsn(plain.wal0)} .. ${lsn(plain.wal1)}`);
  if (process.env.BENCH_PSS) {
    const { rows } = await stitch.db.pool.query(`SELECT calls, round(total_exec_time::numeric,1) AS ms, round((total_exec_time/calls)::numeric,4) AS per, left(regexp_replace(query, '\\s+', ' ', 'g'), 150) AS q FROM pg_stat_statements ORDER BY total_exec_time DESC LIMIT 40`);
    console.table(rows);
    // With track_functions = 'pl': each SQL function's own time, without the functions it calls.
    const fns = await stitch.db.pool.query(`SELECT funcname, calls, round(self_time::numeric,1) AS self_ms, round(total_time::numeric,1) AS total_ms FROM pg_stat_user_functions ORDER BY self_time DESC LIMIT 20`);
    console.table(fns.rows);
  }

  // Hop latency, unloaded: one run at a time.
  recordTimes = true;
  const hops: number[] = [];
  for (let i = 0; i < HOP_RUNS; i++) {
    const { runId } = await startRun(flow.id, { input: { i } });
    await waitForRuns([runId]);
    for (let k = 1; k < CHAIN.length; k++) {
      const done = finished.get(`${runId}/${CHAIN[k - 1]}`);
      const next = started.get(`${runId}/${CHAIN[k]}`);
      if (done !== undefined && next !== undefined) hops.push(next - done);
    }
  }
  recordTimes = false;
  const phaseSeconds = (performance.now() - t0) / 1000;
  const pruned = await pruner?.stop();
  hops.sort((a, b) => a - b);
  await runner.stop();
  const hopFigures = { nodesPerSecond, cpuMsPerNode, walKbPerNode, hopP50: percentile(hops, 50), hopP99: percentile(hops, 99), hops: hops.length };
  if (options.seedOldEvents !== undefined || options.prune) {
    await stitch.stop();
    return { ...hopFigures, limitedNodesPerSecond: NaN, pruned, phaseSeconds };
  }
  // The same chain with a per-key concurrency on the flow that never binds (10 customers, at most
  // CHAIN_RUNS / 10 runs each, limit 10,000): what a configured limit costs when nobody waits.
  const limitedFlow = await createFlow('bench-chain-limited', { ...chainGraph(), concurrency: { limit: 10_000, key: '{{tags.customer}}' } });
  const limited = await drainChain(stitch, config, limitedFlow.id, (i) => ({ customer: `c${i % 10}` }));
  await limited.runner.stop();
  await stitch.stop();
  return { ...hopFigures, limitedNodesPerSecond: limited.nodesPerSecond, pruned, phaseSeconds };
}

/** BENCH_PRUNE=1: the chain phase alone, then while retention prunes a million events. */
async function benchPrune(url: string): Promise<Record<string, number>> {
  const alone = await benchStitch(url, { seedOldEvents: PRUNE_EVENTS });
  console.log(`chain alone (${PRUNE_EVENTS} old events present): ${Math.round(alone.nodesPerSecond)} nodes/s, hop p99 ${round(alone.hopP99, 2)} ms`);
  const pruning = await benchStitch(url, { prune: true });
  const pruned = pruning.pruned!;
  console.log(
    `chain while pruning: ${Math.round(pruning.nodesPerSecond)} nodes/s, hop p99 ${round(pruning.hopP99, 2)} ms; ` +
      `pruned ${pruned.events} events in ${round(pruned.seconds, 1)} s (the chain phases took ${round(pruning.phaseSeconds, 1)} s)`,
  );
  return {
    prune_events: pruned.events,
    prune_events_per_s: Math.round(pruned.events / pruned.seconds),
    prune_seconds: round(pruned.seconds, 1),
    chain_seconds: round(pruning.phaseSeconds, 1),
    nodes_per_s_alone: Math.round(alone.nodesPerSecond),
    nodes_per_s_pruning: Math.round(pruning.nodesPerSecond),
    nodes_per_s_ratio: round(pruning.nodesPerSecond / alone.nodesPerSecond, 2),
    hop_p99_ms_alone: round(alone.hopP99, 2),
    hop_p99_ms_pruning: round(pruning.hopP99, 2),
    hop_p99_ratio: round(pruning.hopP99 / alone.hopP99, 2),
  };
}

async function main() {
  const server = await openBenchServer();
  const figures: Record<string, number> = {};
  try {
    const url = await createBenchDatabase(server.adminUrl);
    if (process.env.BENCH_PRUNE === '1') return Object.assign(figures, await benchPrune(url));
    const { perSecond: queue, cpuMsPerJob } = await benchQueue(url, false);
    console.log(`raw graphile-worker: ${QUEUE_JOBS} no-op jobs at concurrency ${CONCURRENCY}: ${Math.round(queue)} jobs/s, ${round(cpuMsPerJob, 3)} CPU-ms/job`);
    const stitch = await benchStitch(url);
    console.log(
      `stitch: ${CHAIN_RUNS} runs × ${CHAIN.length}-node chain at concurrency ${CONCURRENCY}: ${Math.round(stitch.nodesPerSecond)} nodes/s, ${round(stitch.cpuMsPerNode, 3)} CPU-ms/node`,
    );
    console.log(`ratio nodes/s ÷ jobs/s: ${round(stitch.nodesPerSecond / queue, 2)} (CPU cost ratio job/node: ${round(cpuMsPerJob / stitch.cpuMsPerNode, 2)})`);
    console.log(`hop latency (${stitch.hops} hops, unloaded): p50 ${round(stitch.hopP50, 2)} ms, p99 ${round(stitch.hopP99, 2)} ms`);
    console.log(
      `stitch, the same chain with a per-key flow limit that does not bind: ${Math.round(stitch.limitedNodesPerSecond)} nodes/s ` +
        `(${round(stitch.limitedNodesPerSecond / stitch.nodesPerSecond, 2)} × without)`,
    );
    // Last, so its dead job rows do not slow the phases before it.
    const chainedQueue = await benchQueue(url, true);
    console.log(
      `raw graphile-worker, chained (each job adds the next, ${CHAIN.length} a chain): ${Math.round(chainedQueue.perSecond)} jobs/s, ${round(chainedQueue.cpuMsPerJob, 3)} CPU-ms/job`,
    );
    Object.assign(figures, {
      queue_jobs_per_s: Math.round(queue),
      queue_chained_jobs_per_s: Math.round(chainedQueue.perSecond),
      nodes_per_s: Math.round(stitch.nodesPerSecond),
      ratio: round(stitch.nodesPerSecond / queue, 3),
      ratio_chained: round(stitch.nodesPerSecond / chainedQueue.perSecond, 3),
      cpu_ms_per_job: round(cpuMsPerJob, 3),
      cpu_ms_per_node: round(stitch.cpuMsPerNode, 3),
      wal_kb_per_node: round(stitch.walKbPerNode, 2),
      hop_p50_ms: round(stitch.hopP50, 2),
      hop_p99_ms: round(stitch.hopP99, 2),
      nodes_per_s_limited: Math.round(stitch.limitedNodesPerSecond),
      limited_ratio: round(stitch.limitedNodesPerSecond / stitch.nodesPerSecond, 3),
    });
    if (process.env.BENCH_CORE === '1') return;
    const fanoutModule = path.join(path.dirname(new URL(import.meta.url).pathname), 'fanout.ts');
    if (existsSync(fanoutModule)) {
      // Loaded by path: the fan-out case lives in its own module (and may not exist in older checkouts).
      const { benchFanout } = (await import(pathToFileURL(fanoutModule).href)) as {
        benchFanout: (adminUrl: string) => Promise<Record<string, number>>;
      };
      Object.assign(figures, await benchFanout(server.adminUrl));
    }
    const { benchCacheHop } = await import('./cache');
    Object.assign(figures, await benchCacheHop(server.adminUrl));
    const { benchExperiment } = await import('./experiment');
    Object.assign(figures, await benchExperiment(server.adminUrl));
    const { benchFair } = await import('./fair');
    Object.assign(figures, await benchFair(server.adminUrl));
    const { benchRemote } = await import('./remote');
    Object.assign(figures, await benchRemote(server.adminUrl));
    const { benchStream } = await import('./stream');
    Object.assign(figures, await benchStream(server.adminUrl));
  } finally {
    await server.stop();
    console.log(JSON.stringify(figures));
  }
}

main().then(
  () => process.exit(0),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);

/**
 * Fan-out benchmark: one run of splitter over N items → no-op sync worker → collector, for N = 1,000
 * and 10,000. Each N runs in its own child process on its own fresh database, so that its peak RSS
 * is its own: the figure is the peak resident memory of the Node process doing the work (engine +
 * queue runner). The PostgreSQL backends' private memory (RssAnon, sampled) is printed beside it.
 *
 *   fanout_1k_s / fanout_10k_s  wall time from startRun to the run completed
 *   fanout_10k_rss_mb           peak RSS of the process running the 10,000-item run
 *   fanout_ratio                fanout_10k_s / fanout_1k_s (10 = linear)
 *   rerun_10k_s                 after the 10,000-item run, the node after the collector changes and the
 *                               run is re-run (POST /api/runs/:id/rerun's path): wall time to completed.
 *                               Only that node executes; the scope is reused (src/lib/rerun/reuse-scope.ts)
 *
 * Stitch's own defaults apply (STITCH_FETCH_BATCH etc. from the environment); BENCH_CONCURRENCY sets
 * the queue concurrency (default 10).
 *
 * Standalone: `npx tsx bench/fanout.ts` (DATABASE_URL, else a fresh embedded PostgreSQL);
 * `npm run bench` calls benchFanout() with its own server.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { createBenchDatabase, openBenchServer } from './bench-db';
import type { NodeConfig } from '@/types/stitch';

const SIZES = [1_000, 10_000] as const;
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 10);
const round = (n: number, digits = 2) => Number(n.toFixed(digits));

interface CaseResult {
  items: number;
  seconds: number;
  rssMb: number;
  pgRssAnonMb: number;
  collected: number;
  /** The incremental re-run (only the node after the collector changed), seconds. */
  rerunSeconds?: number;
}

/** Private memory of the PostgreSQL backends serving the current database, MB. */
async function backendRssAnonMb(pool: pg.Pool): Promise<number> {
  const { rows } = await pool.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE datname = current_database()');
  let kb = 0;
  for (const { pid } of rows) {
    try {
      const match = /RssAnon:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
      if (match) kb += Number(match[1]);
    } catch {
      // Not readable (another OS user) or gone: counted as 0.
    }
  }
  return kb / 1024;
}

/** One case, inside the child process. */
async function runCase(url: string, items: number): Promise<CaseResult> {
  const { getConfig } = await import('@/lib/config');
  const { startStitch } = await import('@/lib/stitch');
  const { createFlow, updateFlow } = await import('@/lib/engine/flows');
  const { rerun } = await import('@/lib/rerun/start-rerun');
  const { startRun } = await import('@/lib/engine/start-run');
  const { WORKER_DEFINITIONS, workerRegistry } = await import('@/lib/workers/registry');
  const { triggerCallback } = await import('@/lib/workers/utils');

  WORKER_DEFINITIONS['bench-noop'] = { id: 'bench-noop', name: 'No-op', type: 'sync', description: 'benchmark no-op', input: {}, output: {}, config: {} };
  let executions = 0;
  workerRegistry.register(
    'bench-noop',
    class {
      async execute(runId: string, nodeId: string, _config: NodeConfig, input: unknown) {
        executions++;
        await triggerCallback(runId, nodeId, { status: 'completed', output: input });
      }
    },
  );
  const config = getConfig({ ...process.env, DATABASE_URL: url, STITCH_LOG_LEVEL: 'error', STITCH_SECRET: 'bench-fanout' });
  // The runner starts with the flow below already saved: Stitch's defaults (fetch batch included).
  const stitch = await startStitch({ config, concurrency: CONCURRENCY, pollIntervalMs: 1000 });
  // The node after the collector is what the re-run changes (a no-op too: the fan-out figure is
  // the scope's, one more hop at the end is noise).
  const graphWith = (tag: number) => ({
    nodes: [
      { id: 'split', type: 'splitter', position: { x: 0, y: 0 }, data: { config: { arrayPath: 'items' } } },
      { id: 'noop', type: 'worker', position: { x: 200, y: 0 }, data: { workerType: 'bench-noop' } },
      { id: 'collect', type: 'collector', position: { x: 400, y: 0 }, data: {} },
      { id: 'after', type: 'worker', position: { x: 600, y: 0 }, data: { workerType: 'bench-noop', config: { tag } } },
    ],
    edges: [
      { id: 'e1', source: 'split', target: 'noop' },
      { id: 'e2', source: 'noop', target: 'collect' },
      { id: 'e3', source: 'collect', target: 'after' },
    ],
  });
  const flow = await createFlow('bench-fanout', graphWith(1));
  let pgPeak = 0;
  const sampler = setInterval(() => {
    backendRssAnonMb(stitch.db.pool).then((mb) => (pgPeak = Math.max(pgPeak, mb)), () => {});
  }, 200);

  const input = { items: Array.from({ length: items }, (_, i) => ({ i, title: `item ${i}` })) };
  const t0 = performance.now();
  const { runId } = await startRun(flow.id, { input });
  const finalStatus = async (id: string) => {
    for (;;) {
      await new Promise((r) => setTimeout(r, 20));
      const { rows } = await stitch.db.pool.query<{ status: string }>('SELECT status FROM stitch_runs WHERE id = $1', [id]);
      if (rows[0].status !== 'running' && rows[0].status !== 'pending') return rows[0].status;
    }
  };
  const status = await finalStatus(runId);
  const seconds = (performance.now() - t0) / 1000;
  clearInterval(sampler);
  const { rows } = await stitch.db.pool.query<{ n: number }>(
    `SELECT jsonb_array_length(output)::int AS n FROM stitch_node_runs WHERE run_id = $1 AND instance_id = 'collect'`,
    [runId],
  );
  if (status !== 'completed' || rows[0]?.n !== items) throw new Error(`fan-out run ended ${status} with ${rows[0]?.n} results`);
  let rerunSeconds: number | undefined;
  if (items >= 10_000) {
    await updateFlow(flow.id, graphWith(2));
    const before = executions;
    const t1 = performance.now();
    const again = await rerun(runId);
    const rerunStatus = await finalStatus(again.runId);
    rerunSeconds = (performance.now() - t1) / 1000;
    if (rerunStatus !== 'completed' || executions - before !== 1) throw new Error(`re-run ended ${rerunStatus} after ${executions - before} executions (expected 1)`);
  }
  await stitch.stop();
  return { items, seconds, rssMb: process.resourceUsage().maxRSS / 1024, pgRssAnonMb: pgPeak, collected: rows[0].n, rerunSeconds };
}

/** Run one case in a fresh child process; its last stdout line is the CaseResult JSON. */
function runChild(url: string, items: number): Promise<CaseResult> {
  const self = fileURLToPath(import.meta.url);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', self, '--case', String(items), url], {
      cwd: path.resolve(path.dirname(self), '..'),
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (chunk) => (out += chunk));
    child.once('error', reject);
    child.once('exit', (code) => {
      const last = out.trim().split('\n').at(-1) ?? '';
      if (code === 0 && last.startsWith('{')) resolve(JSON.parse(last) as CaseResult);
      else reject(new Error(`fan-out case ${items} exited with ${code}:\n${out}`));
    });
  });
}

/** The fan-out figures; prints its own lines. `adminUrl`: a server to create the databases on. */
export async function benchFanout(
  adminUrl?: string,
): Promise<{ fanout_1k_s: number; fanout_10k_s: number; fanout_10k_rss_mb: number; fanout_ratio: number; rerun_10k_s: number }> {
  const server = adminUrl ? { adminUrl, stop: async () => {} } : await openBenchServer();
  try {
    const results: CaseResult[] = [];
    for (const items of SIZES) {
      const result = await runChild(await createBenchDatabase(server.adminUrl, 'stitch_fanout'), items);
      console.log(
        `fan-out: splitter → no-op → collector over ${items} items at concurrency ${CONCURRENCY}: ` +
          `${round(result.seconds)} s (${Math.round(items / result.seconds)} items/s), peak RSS ${Math.round(result.rssMb)} MB ` +
          `(PostgreSQL backends' private memory peak ${Math.round(result.pgRssAnonMb)} MB)`,
      );
      results.push(result);
    }
    const [small, large] = results;
    const ratio = large.seconds / small.seconds;
    console.log(`fan-out time ratio 10k/1k: ${round(ratio)} (10 = linear)`);
    const rerunSeconds = large.rerunSeconds ?? Number.NaN;
    console.log(`re-run of the 10k fan-out, only the node after the collector changed: ${round(rerunSeconds)} s (${round(rerunSeconds / large.seconds)} × the run)`);
    return {
      fanout_1k_s: round(small.seconds),
      fanout_10k_s: round(large.seconds),
      fanout_10k_rss_mb: Math.round(large.rssMb),
      fanout_ratio: round(ratio),
      rerun_10k_s: round(rerunSeconds),
    };
  } finally {
    await server.stop();
  }
}

if (process.argv[2] === '--case') {
  runCase(process.argv[4], Number(process.argv[3])).then(
    (result) => {
      console.log(JSON.stringify(result));
      process.exit(0);
    },
    (error) => {
      console.error(error);
      process.exit(1);
    },
  );
} else if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  benchFanout().then(
    (figures) => {
      console.log(JSON.stringify(figures));
      process.exit(0);
    },
    (error) => {
      console.error(error);
      process.exit(1);
    },
  );
}

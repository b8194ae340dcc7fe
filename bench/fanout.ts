/**
 * Fan-out benchmark: one run of splitter over N items → no-op sync worker → collector, for N = 1,000
 * and 10,000. Each N runs in its own child process on its own fresh database, so that its peak RSS
 * is its own: the figure is the peak resident memory of the Node process doing the work (engine +
 * queue runner). The PostgreSQL backends' private memory (RssAnon, sampled) is printed beside it.
 *
 *   fanout_1k_s / fanout_10k_s  wall time from startRun to the run completed
 *   fanout_10k_rss_mb           peak RSS of the process running the 10,000-item run
 *   fanout_ratio                fanout_10k_s / fanout_1k_s (10 = linear)
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
  const { createFlow } = await import('@/lib/db/flows');
  const { startRun } = await import('@/lib/engine/start-run');
  const { WORKER_DEFINITIONS, workerRegistry } = await import('@/lib/workers/registry');
  const { triggerCallback } = await import('@/lib/workers/utils');

  WORKER_DEFINITIONS['bench-noop'] = { id: 'bench-noop', name: 'No-op', type: 'sync', description: 'benchmark no-op', input: {}, output: {}, config: {} };
  workerRegistry.register(
    'bench-noop',
    class {
      async execute(runId: string, nodeId: string, _config: NodeConfig, input: unknown) {
        await triggerCallback(runId, nodeId, { status: 'completed', output: input });
      }
    },
  );
  const config = getConfig({ ...process.env, DATABASE_URL: url, STITCH_LOG_LEVEL: 'error', STITCH_SECRET: 'bench-fanout' });
  // The runner starts with the flow below already saved: Stitch's defaults (fetch batch included).
  const stitch = await startStitch({ config, concurrency: CONCURRENCY, pollIntervalMs: 1000 });
  const flow = await createFlow('bench-fanout', {
    nodes: [
      { id: 'split', type: 'splitter', position: { x: 0, y: 0 }, data: { config: { arrayPath: 'items' } } },
      { id: 'noop', type: 'worker', position: { x: 200, y: 0 }, data: { workerType: 'bench-noop' } },
      { id: 'collect', type: 'collector', position: { x: 400, y: 0 }, data: {} },
    ],
    edges: [
      { id: 'e1', source: 'split', target: 'noop' },
      { id: 'e2', source: 'noop', target: 'collect' },
    ],
  });
  let pgPeak = 0;
  const sampler = setInterval(() => {
    backendRssAnonMb(stitch.db.pool).then((mb) => (pgPeak = Math.max(pgPeak, mb)), () => {});
  }, 200);

  const input = { items: Array.from({ length: items }, (_, i) => ({ i, title: `item ${i}` })) };
  const t0 = performance.now();
  const { runId } = await startRun(flow.id, { input });
  let status = 'running';
  while (status === 'running' || status === 'pending') {
    await new Promise((r) => setTimeout(r, 20));
    const { rows } = await stitch.db.pool.query<{ status: string }>('SELECT status FROM stitch_runs WHERE id = $1', [runId]);
    status = rows[0].status;
  }
  const seconds = (performance.now() - t0) / 1000;
  clearInterval(sampler);
  const { rows } = await stitch.db.pool.query<{ n: number }>(
    `SELECT jsonb_array_length(output)::int AS n FROM stitch_node_runs WHERE run_id = $1 AND instance_id = 'collect'`,
    [runId],
  );
  if (status !== 'completed' || rows[0]?.n !== items) throw new Error(`fan-out run ended ${status} with ${rows[0]?.n} results`);
  await stitch.stop();
  return { items, seconds, rssMb: process.resourceUsage().maxRSS / 1024, pgRssAnonMb: pgPeak, collected: rows[0].n };
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
export async function benchFanout(adminUrl?: string): Promise<{ fanout_1k_s: number; fanout_10k_s: number; fanout_10k_rss_mb: number; fanout_ratio: number }> {
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
    return { fanout_1k_s: round(small.seconds), fanout_10k_s: round(large.seconds), fanout_10k_rss_mb: Math.round(large.rssMb), fanout_ratio: round(ratio) };
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

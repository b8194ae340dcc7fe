/**
 * Step-cache hop benchmark: a 5-node chain of a cached no-op worker, run once to fill the cache, then
 * run one run at a time (unloaded) with the same input so every node is a cache hit.
 *
 *   cache_hit_hop_ms      p50 of (a node's completion committed → the next node, a cache hit,
 *                         completed), from the rows' own timestamps: the hop plus the whole hit
 *   settle_hop_ms         the same measure on the same chain without the cache (hop + a no-op
 *                         execution + its completion), for comparison
 *
 * Standalone: `npx tsx bench/cache.ts`; `npm run bench` calls benchCacheHop() with its own server.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createBenchDatabase, openBenchServer } from './bench-db';
import type { NodeConfig } from '@/types/stitch';

const CHAIN = ['c1', 'c2', 'c3', 'c4', 'c5'];
const RUNS = Number(process.env.BENCH_CACHE_RUNS ?? 100);
const round = (n: number, digits = 2) => Number(n.toFixed(digits));
const p50 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

export async function benchCacheHop(adminUrl?: string): Promise<{ cache_hit_hop_ms: number; settle_hop_ms: number }> {
  const server = adminUrl ? { adminUrl, stop: async () => {} } : await openBenchServer();
  const { getConfig } = await import('@/lib/config');
  const { startStitch } = await import('@/lib/stitch');
  const { createFlow } = await import('@/lib/engine/flows');
  const { startRun } = await import('@/lib/engine/start-run');
  const { WORKER_DEFINITIONS, workerRegistry } = await import('@/lib/workers/registry');
  const { triggerCallback } = await import('@/lib/workers/utils');
  WORKER_DEFINITIONS['bench-noop'] = { id: 'bench-noop', name: 'No-op', type: 'sync', description: 'benchmark no-op', input: {}, output: {}, config: {} };
  if (!workerRegistry.has('bench-noop')) {
    workerRegistry.register(
      'bench-noop',
      class {
        async execute(runId: string, nodeId: string, _config: NodeConfig, input: unknown) {
          await triggerCallback(runId, nodeId, { status: 'completed', output: input });
        }
      },
    );
  }
  const url = await createBenchDatabase(server.adminUrl, 'stitch_cache');
  const stitch = await startStitch({ config: getConfig({ ...process.env, DATABASE_URL: url, STITCH_LOG_LEVEL: 'error', STITCH_SECRET: 'bench-cache' }), concurrency: 10, pollIntervalMs: 1000 });
  try {
    const chain = (cache: boolean) => ({
      nodes: CHAIN.map((id, i) => ({ id, type: 'worker', position: { x: i * 200, y: 0 }, data: { workerType: 'bench-noop', ...(cache ? { cache: true } : {}) } })),
      edges: CHAIN.slice(1).map((id, i) => ({ id: `e${i}`, source: CHAIN[i], target: id })),
    });
    const runOnce = async (flowId: string, input: unknown): Promise<string> => {
      const { runId } = await startRun(flowId, { input });
      for (;;) {
        const { rows } = await stitch.db.pool.query<{ status: string }>('SELECT status FROM stitch_runs WHERE id = $1', [runId]);
        if (rows[0].status === 'completed') return runId;
        if (rows[0].status !== 'running') throw new Error(`bench run ended ${rows[0].status}`);
        await new Promise((r) => setTimeout(r, 2));
      }
    };
    /** Milliseconds between consecutive completions along the chain, over `runs`. */
    const hops = async (runIds: string[]) => {
      const { rows } = await stitch.db.pool.query<{ ms: number }>(
        `SELECT extract(epoch FROM (n.finished_at - p.finished_at)) * 1000 AS ms
         FROM stitch_node_runs n JOIN stitch_node_runs p ON p.run_id = n.run_id
           AND p.instance_id = ('c' || (substr(n.instance_id, 2)::int - 1))
         WHERE n.run_id = ANY ($1::uuid[]) AND n.instance_id <> 'c1'`,
        [runIds],
      );
      return rows.map((r) => Number(r.ms));
    };
    const cached = await createFlow('bench-cache', chain(true));
    await runOnce(cached.id, { same: true }); // fills the cache
    const hitRuns: string[] = [];
    for (let i = 0; i < RUNS; i++) hitRuns.push(await runOnce(cached.id, { same: true }));
    const { rows } = await stitch.db.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM stitch_node_runs WHERE run_id = ANY ($1::uuid[]) AND metadata ->> 'origin' = 'cached'`,
      [hitRuns],
    );
    if (rows[0].n !== RUNS * CHAIN.length) throw new Error(`expected every node to be a cache hit, got ${rows[0].n} of ${RUNS * CHAIN.length}`);
    const plain = await createFlow('bench-plain', chain(false));
    const plainRuns: string[] = [];
    for (let i = 0; i < RUNS; i++) plainRuns.push(await runOnce(plain.id, { i }));
    const figures = { cache_hit_hop_ms: round(p50(await hops(hitRuns))), settle_hop_ms: round(p50(await hops(plainRuns))) };
    console.log(
      `step cache: hop into a cache hit (completion → hit completed) p50 ${figures.cache_hit_hop_ms} ms; ` +
        `the same measure without the cache (completion → no-op executed and completed) p50 ${figures.settle_hop_ms} ms`,
    );
    return figures;
  } finally {
    await stitch.stop();
    await server.stop();
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  benchCacheHop().then(
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

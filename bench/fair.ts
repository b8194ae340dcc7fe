/**
 * Fair-share benchmark: how long key B's run takes to start while key A floods the same flow.
 * The flow has a per-key concurrency of 4 (`{{tags.customer}}`) and one node, a sync worker that
 * works for 20 ms.
 *
 *   fair_unloaded_start_ms  p50, startRun called → the run's node executing, nothing else running
 *   fair_wait_p50_ms/p99    the same for key B's runs, one at a time, after key A started 2,000 runs
 *                           (4 of them active, the rest waiting) — target p99 ≤ 10 × unloaded
 *
 * Standalone: `npx tsx bench/fair.ts`; `npm run bench` calls benchFair() with its own server.
 * BENCH_FAIR_FLOOD (2000) and BENCH_FAIR_SAMPLES (50) change the sizes.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { createBenchDatabase, openBenchServer } from './bench-db';
import type { NodeConfig } from '@/types/stitch';

const FLOOD = Number(process.env.BENCH_FAIR_FLOOD ?? 2000);
const SAMPLES = Number(process.env.BENCH_FAIR_SAMPLES ?? 50);
const WORK_MS = 20;
const round = (n: number, digits = 2) => Number(n.toFixed(digits));
const percentile = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))];

/** Runs whose node began executing: run id → performance.now() at its start. */
const startedAt = new Map<string, number>();
const waiting = new Map<string, () => void>();

export async function benchFair(adminUrl?: string): Promise<Record<string, number>> {
  const server = adminUrl ? { adminUrl, stop: async () => {} } : await openBenchServer();
  const { getConfig } = await import('@/lib/config');
  const { startStitch } = await import('@/lib/stitch');
  const { createFlow } = await import('@/lib/engine/flows');
  const { startRun } = await import('@/lib/engine/start-run');
  const { WORKER_DEFINITIONS, workerRegistry } = await import('@/lib/workers/registry');
  const { triggerCallback } = await import('@/lib/workers/utils');
  WORKER_DEFINITIONS['bench-work'] = { id: 'bench-work', name: 'Work', type: 'sync', description: 'benchmark: 20 ms of work', input: {}, output: {}, config: {} };
  if (!workerRegistry.has('bench-work')) {
    workerRegistry.register(
      'bench-work',
      class {
        async execute(runId: string, nodeId: string, _config: NodeConfig, input: unknown) {
          startedAt.set(runId, performance.now());
          waiting.get(runId)?.();
          await new Promise((r) => setTimeout(r, WORK_MS));
          await triggerCallback(runId, nodeId, { status: 'completed', output: input });
        }
      },
    );
  }
  const url = await createBenchDatabase(server.adminUrl, 'stitch_fair');
  const stitch = await startStitch({ config: getConfig({ ...process.env, DATABASE_URL: url, STITCH_LOG_LEVEL: 'error', STITCH_SECRET: 'bench-fair' }), concurrency: 10, pollIntervalMs: 1000 });
  try {
    const flow = await createFlow('bench-fair', {
      nodes: [{ id: 'work', type: 'worker', position: { x: 0, y: 0 }, data: { workerType: 'bench-work' } }],
      edges: [],
      concurrency: { limit: 4, key: '{{tags.customer}}' },
    });
    /** startRun → the node executing, in ms. */
    const startLatency = async (customer: string): Promise<number> => {
      const t0 = performance.now();
      let runId = '';
      const began = new Promise<void>((resolve) => {
        void startRun(flow.id, { input: {}, tags: { customer } }).then((r) => {
          runId = r.runId;
          if (startedAt.has(runId)) resolve();
          else waiting.set(runId, resolve);
        });
      });
      await began;
      waiting.delete(runId);
      const ms = startedAt.get(runId)! - t0;
      // Let it finish, so the next sample finds its key's slots as the flood leaves them.
      await new Promise((r) => setTimeout(r, WORK_MS * 2));
      return ms;
    };
    const unloaded: number[] = [];
    for (let i = 0; i < SAMPLES; i++) unloaded.push(await startLatency('b'));
    for (let i = 0; i < FLOOD; i += 50) {
      await Promise.all(Array.from({ length: Math.min(50, FLOOD - i) }, () => startRun(flow.id, { input: {}, tags: { customer: 'a' } })));
    }
    const loaded: number[] = [];
    for (let i = 0; i < SAMPLES; i++) loaded.push(await startLatency('b'));
    const figures = {
      fair_unloaded_start_ms: round(percentile(unloaded, 50)),
      fair_wait_p50_ms: round(percentile(loaded, 50)),
      fair_wait_p99_ms: round(percentile(loaded, 99)),
    };
    console.log(
      `fair share: key B's run start while key A floods (${FLOOD} runs, concurrency 4 per key): p50 ${figures.fair_wait_p50_ms} ms, ` +
        `p99 ${figures.fair_wait_p99_ms} ms; unloaded p50 ${figures.fair_unloaded_start_ms} ms (target p99 ≤ 10 × unloaded)`,
    );
    return figures;
  } finally {
    await stitch.stop();
    await server.stop();
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  benchFair().then(
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

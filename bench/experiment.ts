/**
 * Experiment sharing benchmark: 100 dataset rows × 2 variants of a 4-worker chain that differ only
 * in the last node's settings (an override). Shared work should execute once.
 *
 *   experiment_shared_ratio  worker executions ÷ (rows × workers + rows): 1.0 when nothing the
 *                            variants share executes twice (each row: 4 shared, +1 for the other
 *                            variant's last node)
 *   experiment_s             wall time from the start to the experiment's completion
 *
 * Standalone: `npx tsx bench/experiment.ts`; `npm run bench` calls benchExperiment() with its own server.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { createBenchDatabase, openBenchServer } from './bench-db';
import type { NodeConfig } from '@/types/stitch';

const ROWS = Number(process.env.BENCH_EXPERIMENT_ROWS ?? 100);
const CHAIN = ['w1', 'w2', 'w3', 'last'];
const round = (n: number, digits = 3) => Number(n.toFixed(digits));

export async function benchExperiment(adminUrl?: string): Promise<{ experiment_shared_ratio: number; experiment_s: number }> {
  const server = adminUrl ? { adminUrl, stop: async () => {} } : await openBenchServer();
  const { getConfig } = await import('@/lib/config');
  const { startStitch } = await import('@/lib/stitch');
  const { createFlow } = await import('@/lib/engine/flows');
  const { createDataset } = await import('@/lib/datasets/store');
  const { createExperiment, getExperiment } = await import('@/lib/experiments/store');
  const { WORKER_DEFINITIONS, workerRegistry } = await import('@/lib/workers/registry');
  const { triggerCallback } = await import('@/lib/workers/utils');
  let executions = 0;
  WORKER_DEFINITIONS['bench-exp'] = { id: 'bench-exp', name: 'Counted', type: 'sync', description: 'benchmark: counts its executions', input: {}, output: {}, config: {} };
  if (!workerRegistry.has('bench-exp')) {
    workerRegistry.register(
      'bench-exp',
      class {
        async execute(runId: string, nodeId: string, config: NodeConfig, input: unknown) {
          executions++;
          await triggerCallback(runId, nodeId, { status: 'completed', output: { ...(input as object), [nodeId]: (config as { tag?: string }).tag ?? 'a' } });
        }
      },
    );
  }
  const url = await createBenchDatabase(server.adminUrl, 'stitch_experiment');
  const stitch = await startStitch({ config: getConfig({ ...process.env, DATABASE_URL: url, STITCH_LOG_LEVEL: 'error', STITCH_SECRET: 'bench-experiment' }), concurrency: 10, pollIntervalMs: 1000 });
  try {
    const flow = await createFlow('bench-experiment', {
      nodes: CHAIN.map((id, i) => ({ id, type: 'worker', position: { x: i * 200, y: 0 }, data: { workerType: 'bench-exp' } })),
      edges: CHAIN.slice(1).map((id, i) => ({ id: `e${i}`, source: CHAIN[i], target: id })),
    });
    await createDataset('bench-rows', { rows: Array.from({ length: ROWS }, (_, i) => ({ topic: `row-${i}` })) });
    const t0 = performance.now();
    const x = await createExperiment({
      flowId: flow.id,
      datasetId: 'bench-rows',
      variants: [{ label: 'A' }, { label: 'B', nodeOverrides: { last: { config: { tag: 'b' } } } }],
      concurrency: 20,
    });
    for (;;) {
      const view = await getExperiment(x.id, { limit: 0 });
      if (view.status !== 'running') {
        if (view.status !== 'completed') throw new Error(`bench experiment ended ${view.status}: ${view.error}`);
        break;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    const seconds = (performance.now() - t0) / 1000;
    const figures = { experiment_shared_ratio: round(executions / (ROWS * CHAIN.length + ROWS)), experiment_s: round(seconds, 2) };
    console.log(
      `experiment: ${ROWS} rows × 2 variants sharing ${CHAIN.length - 1} of ${CHAIN.length} workers: ${executions} executions ` +
        `(ratio ${figures.experiment_shared_ratio}, target 1.0) in ${figures.experiment_s} s`,
    );
    return figures;
  } finally {
    await stitch.stop();
    await server.stop();
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  benchExperiment().then(
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

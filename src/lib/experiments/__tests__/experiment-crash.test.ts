/**
 * kill -9 mid-experiment: the runner driving an experiment (its job, its cells' runs) dies with
 * SIGKILL; another runner on the same database finishes it — every cell completed, one run per
 * cell (the keyed starts never start a cell twice), nothing held in the dead process's memory.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { getPool } from '@/lib/db/pool';
import { createDataset } from '@/lib/datasets/store';
import { createFlow } from '@/lib/engine/flows';
import { createExperiment, getExperiment } from '@/lib/experiments/store';
import { eventually, graph, registerTestWorker, syncWorker } from '../../../../test/helpers';
import { startTestStitch, type TestStitch } from '../../../../test/db';
import { spawnTsx, type SpawnedProcess } from '../../../../test/processes';

let stitch: TestStitch;
const children: SpawnedProcess[] = [];

function runner(): SpawnedProcess {
  const p = spawnTsx('test/fixtures/runner-process.ts', {
    DATABASE_URL: stitch.url,
    STITCH_SECRET: 'test-secret-0123456789',
    STITCH_HEARTBEAT_SECONDS: '0.5',
    STITCH_STALE_RUNNER_SECONDS: '2',
    STITCH_LOG_LEVEL: 'error',
    RUNNER_CONCURRENCY: '4',
  });
  children.push(p);
  return p;
}

beforeAll(async () => {
  registerTestWorker('slow', syncWorker((input) => input)); // the definition the compiler needs; the runners execute it
  stitch = await startTestStitch({ runner: false });
  await getPool().query('CREATE TABLE test_exec (run_id uuid, node_id text, pid int, at timestamptz DEFAULT clock_timestamp())');
});
afterAll(async () => {
  for (const c of children.splice(0)) {
    if (c.child.exitCode === null) c.child.kill('SIGKILL');
    await c.exited;
  }
  await stitch?.destroy();
});

it('a runner killed with SIGKILL mid-experiment: another completes it, one run per cell', async () => {
  const flow = await createFlow(
    'crash-experiment',
    graph(
      ['a', 'b', 'c'].map((id) => ({ id, workerType: 'slow', config: { ms: 120 } })),
      [
        ['a', 'b'],
        ['b', 'c'],
      ],
    ),
  );
  await createDataset('crash-rows', { rows: Array.from({ length: 6 }, (_, i) => ({ i })) });
  const first = runner();
  await first.ready;
  const x = await createExperiment({
    flowId: flow.id,
    datasetId: 'crash-rows',
    variants: [{ label: 'A' }, { label: 'B', nodeOverrides: { c: { config: { ms: 121 } } } }],
    concurrency: 4,
  });
  // Kill it mid-way: some cells done, others in flight.
  await eventually(async () => (await getExperiment(x.id, { limit: 0 })).progress.done >= 2);
  first.child.kill('SIGKILL');
  await first.exited;
  expect((await getExperiment(x.id, { limit: 0 })).status).toBe('running');

  const second = runner();
  await second.ready;
  const done = await eventually(async () => {
    const view = await getExperiment(x.id, { limit: 100 });
    return view.status !== 'running' && view;
  }, 90_000);
  expect(done.status).toBe('completed');
  expect(done.summary.map((s) => [s.label, s.completed])).toEqual([
    ['A', 6],
    ['B', 6],
  ]);
  const { rows } = await getPool().query('SELECT count(*)::int AS n, count(DISTINCT trigger) ::int AS cells FROM stitch_runs WHERE experiment_id = $1', [x.id]);
  expect(rows[0]).toEqual({ n: 12, cells: 12 }); // no cell started twice
  const runIds = new Set(done.rows.flatMap((r) => r.variants.map((c) => c.runId)));
  expect(runIds.size).toBe(12);
}, 180_000);

/**
 * Remote-worker pickup latency: how long after a remote task becomes ready the pulling worker has
 * it in hand. One worker long-polls (over real HTTP on loopback) while runs of a one-node flow are
 * started one at a time; each figure is (poll answer received) − (task row's ready_at), both on
 * this machine's clock.
 *
 *   remote_pickup_ms      median over BENCH_REMOTE_TASKS (default 100) tasks
 *   remote_pickup_p99_ms  99th percentile
 *
 * Standalone: `npx tsx bench/remote.ts`; `npm run bench` calls benchRemote() with its own server.
 */
import { performance } from 'node:perf_hooks';
import { createBenchDatabase, openBenchServer } from './bench-db';
import { getConfig } from '@/lib/config';
import { createFlow } from '@/lib/engine/flows';
import { getPool } from '@/lib/db/pool';
import { createLogger, setLogger } from '@/lib/log';
import { startRun } from '@/lib/engine/start-run';
import { startStitch } from '@/lib/stitch';
import { startServer } from '@/server/listen';

const TASKS = Number(process.env.BENCH_REMOTE_TASKS ?? 100);
const round = (n: number, digits = 2) => Number(n.toFixed(digits));

async function post(url: string, body: unknown): Promise<any> {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  if (!response.ok) throw new Error(`${url} → ${response.status} ${await response.text()}`);
  return response.json();
}

async function waitForRun(runId: string): Promise<void> {
  for (;;) {
    const { rows } = await getPool().query(`SELECT status FROM stitch_runs WHERE id = $1`, [runId]);
    if (rows[0].status !== 'running' && rows[0].status !== 'pending') return;
    await new Promise((r) => setTimeout(r, 5));
  }
}

export async function benchRemote(adminUrl: string): Promise<Record<string, number>> {
  setLogger(createLogger('error')); // the server's request log would drown the figures
  const url = await createBenchDatabase(adminUrl);
  const config = getConfig({ ...process.env, DATABASE_URL: url, PORT: '0', STITCH_LOG_LEVEL: 'error', STITCH_SECRET: 'bench', STITCH_API_KEY: '' });
  const stitch = await startStitch({ config, concurrency: 10 });
  const server = await startServer(stitch.config);
  try {
    await post(`${server.url}/api/remote-workers/register`, { workerId: 'bench', workers: [{ id: 'bench-remote' }] });
    const flow = await createFlow('bench-remote', {
      nodes: [{ id: 'r', type: 'worker', position: { x: 0, y: 0 }, data: { workerType: 'bench-remote' } }],
      edges: [],
    });
    const pickups: number[] = [];
    for (let i = 0; i < TASKS; i++) {
      const polled = post(`${server.url}/api/tasks/poll`, { types: ['bench-remote'], workerId: 'bench', waitSeconds: 30 });
      // Let the poll reach its wait: the figure is a waiting worker's pickup, not a poll's round trip.
      await new Promise((r) => setTimeout(r, 20));
      const { runId } = await startRun(flow.id, { input: { i } });
      const { tasks } = await polled;
      const receivedAt = performance.timeOrigin + performance.now();
      pickups.push(receivedAt - tasks[0].readyAt);
      await post(`${server.url}/api/tasks/${tasks[0].taskId}/complete`, { token: tasks[0].token, output: { i } });
      await waitForRun(runId);
    }
    pickups.sort((a, b) => a - b);
    const median = pickups[Math.floor(pickups.length / 2)];
    const p99 = pickups[Math.min(pickups.length - 1, Math.floor(pickups.length * 0.99))];
    console.log(`remote pickup (${TASKS} tasks, one long-polling worker): median ${round(median)} ms, p99 ${round(p99)} ms`);
    return { remote_pickup_ms: round(median), remote_pickup_p99_ms: round(p99) };
  } finally {
    await server.close();
    await stitch.stop();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const server = await openBenchServer();
  try {
    console.log(JSON.stringify(await benchRemote(server.adminUrl)));
  } finally {
    await server.stop();
  }
  process.exit(0);
}

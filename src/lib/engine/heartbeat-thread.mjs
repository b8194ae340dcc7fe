// The runner's heartbeat, on its own thread and its own connection (issue 10 A.7): a main event
// loop stalled by one huge request or a CPU-bound worker must not get a live runner declared dead
// (another runner would release its jobs and sync workers would run twice). Plain JavaScript so
// that every loader (tsx, vitest, node) can start it as a worker thread.
//
// workerData: { url, id, hostname, pid, intervalMs, maxStallMs, shared }
//   shared: Int32Array over a SharedArrayBuffer — [0] 1 while the runner can run jobs (0: stop
//   beating at once), [1] the main thread's last tick (seconds, its own clock). Beats stop when the
//   main thread has not ticked for maxStallMs: a loop stalled that long is presumed wedged for good.
// Messages in: { poolIds: string[], seq } (the graphile worker pools whose jobs this runner holds):
//   written at once, not at the next interval — a process killed right after its pool started must
//   not leave jobs locked by a pool no heartbeat row names.
// Messages out: { beat: true, seq } after each successful beat (seq: the last poolIds message it
//   wrote), { failed: message } after a failed one.
import { parentPort, workerData } from 'node:worker_threads';
import pg from 'pg';

const { url, id, hostname, pid, intervalMs, maxStallMs, shared } = workerData;
const state = new Int32Array(shared);
let poolIds = [];
let seq = 0;
let client;

parentPort.on('message', (message) => {
  if (!Array.isArray(message?.poolIds)) return;
  poolIds = message.poolIds;
  seq = message.seq;
  tick();
});

async function connection() {
  if (client) return client;
  const c = new pg.Client({ connectionString: url, application_name: 'stitch-heartbeat' });
  c.on('error', () => {
    if (client === c) client = undefined;
  });
  await c.connect();
  client = c;
  return c;
}

async function beat() {
  if (Atomics.load(state, 0) !== 1) return;
  const stalledMs = Date.now() - Atomics.load(state, 1) * 1000;
  if (stalledMs > maxStallMs) return;
  const written = seq;
  try {
    const c = await connection();
    await c.query(
      `INSERT INTO stitch_runners (id, pool_ids, hostname, pid) VALUES ($1, $2, $3, $4)
       ON CONFLICT (id) DO UPDATE SET last_seen_at = now(), pool_ids = excluded.pool_ids`,
      [id, poolIds, hostname, pid],
    );
    parentPort.postMessage({ beat: true, seq: written });
  } catch (error) {
    client?.end().catch(() => {});
    client = undefined;
    parentPort.postMessage({ failed: String(error?.message ?? error) });
  }
}

// One beat at a time; a beat asked for while one runs follows it at once.
let running = false;
let again = false;
function tick() {
  if (running) {
    again = true;
    return;
  }
  running = true;
  beat().finally(() => {
    running = false;
    if (again) {
      again = false;
      tick();
    }
  });
}
tick();
setInterval(tick, intervalMs);

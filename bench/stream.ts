/**
 * Streamed output (`streamOutput`): latency to a reader, and what it writes to the database.
 * A sync worker streams 1,000 numbered chunks at ~1,000 a second (10 every 10 ms, a fast model)
 * while an SSE client on loopback reads `GET /api/runs/:id/events`.
 *
 *   stream_chunk_ms / stream_chunk_p99_ms  p50 / p99 of (chunk handed to streamOutput → its part
 *                                          parsed by the SSE client), same process clock, over
 *                                          BENCH_STREAM_RUNS runs (default 5)
 *   stream_messages_per_1000_chunks       SSE messages that carried them (coalescing)
 *   stream_rows_per_1000_chunks           table rows written (inserted, updated, deleted) by a run
 *                                          streaming 1,000 chunks minus the same run streaming none
 *                                          (target: 0, constant, not per chunk); read from
 *                                          pg_stat_user_tables after Stitch stopped, so every
 *                                          backend has reported (runner heartbeats left out)
 *
 * Standalone: `npx tsx bench/stream.ts`; `npm run bench` calls benchStream() with its own server.
 */
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { createBenchDatabase, openBenchServer } from './bench-db';
import type { NodeConfig } from '@/types/stitch';
import { getConfig } from '@/lib/config';
import { createFlow } from '@/lib/engine/flows';
import { createLogger, setLogger } from '@/lib/log';
import { startRun } from '@/lib/engine/start-run';
import { startStitch } from '@/lib/stitch';
import { WORKER_DEFINITIONS, workerRegistry } from '@/lib/workers/registry';
import { streamOutput, triggerCallback } from '@/lib/workers/utils';
import { startServer } from '@/server/listen';

const CHUNKS = 1000;
const RUNS = Number(process.env.BENCH_STREAM_RUNS ?? 5);
const round = (n: number, digits = 2) => Number(n.toFixed(digits));
const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];

/** When each chunk (`<run>:<i>;`) was handed to streamOutput. */
const sentAt = new Map<string, number>();
/** Per run: resolved once its reader is connected (the figure is live latency, not a late reader's replay). */
const readers = new Map<string, { connected: Promise<void>; open: () => void }>();
function reader(runId: string) {
  let entry = readers.get(runId);
  if (!entry) {
    let open!: () => void;
    const connected = new Promise<void>((r) => (open = r));
    readers.set(runId, (entry = { connected, open }));
  }
  return entry;
}

class Streamer {
  async execute(runId: string, nodeId: string, config: NodeConfig, input: unknown) {
    await reader(runId).connected;
    // The same work and pace with or without streaming: only the chunks differ between the row counts.
    for (let i = 0; i < CHUNKS; i++) {
      sentAt.set(`${runId}:${i}`, performance.now());
      if (config.stream) streamOutput(runId, nodeId, `${i};`);
      if (i % 10 === 9) await new Promise((r) => setTimeout(r, 10));
    }
    await triggerCallback(runId, nodeId, { status: 'completed', output: input });
  }
}

/** Rows inserted, updated and deleted in the database so far (liveness heartbeats aside). */
async function rowsWritten(url: string): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ n: string }>(
      `SELECT coalesce(sum(n_tup_ins + n_tup_upd + n_tup_del), 0)::text AS n FROM pg_stat_all_tables
       WHERE (schemaname = 'public' OR schemaname = 'graphile_worker') AND relname NOT IN ('stitch_runners', '_private_workers')`,
    );
    return Number(rows[0].n);
  } finally {
    await client.end();
  }
}

/** Read a run's SSE stream; resolves with each chunk's arrival time and the message count once `chunks` arrived. */
function readStream(url: string, runId: string, chunks: number): { done: Promise<{ arrivals: number[]; messages: number }>; close: () => void } {
  const controller = new AbortController();
  const opened = reader(runId).open;
  const done = (async () => {
    const response = await fetch(`${url}/api/runs/${runId}/events`, { headers: { accept: 'text/event-stream' }, signal: controller.signal });
    const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
    const arrivals: number[] = [];
    let messages = 0;
    let buffer = '';
    if (chunks === 0) opened();
    while (arrivals.length < chunks) {
      const { value, done: ended } = await reader.read();
      if (ended) break;
      const now = performance.now();
      buffer += value;
      if (buffer.includes(': connected')) opened();
      const blocks = buffer.split('\n\n');
      buffer = blocks.pop() ?? '';
      for (const block of blocks) {
        const data = block.split('\n').find((l) => l.startsWith('data: '))?.slice(6);
        if (!data?.startsWith('{"type":"node:stream"')) continue;
        messages += 1;
        const parts = (JSON.parse(data) as { parts: string[] }).parts.join('');
        for (const n of parts.split(';').filter(Boolean)) arrivals.push(now - sentAt.get(`${runId}:${n}`)!);
      }
    }
    return { arrivals, messages };
  })().finally(() => opened());
  return { done, close: () => controller.abort() };
}

/** One Stitch (runner + HTTP server) on `url` for `runs` runs, streaming or not. */
async function session(url: string, runs: number, stream: boolean) {
  const config = getConfig({ ...process.env, DATABASE_URL: url, PORT: '0', STITCH_LOG_LEVEL: 'error', STITCH_SECRET: 'bench', STITCH_API_KEY: '' });
  const stitch = await startStitch({ config, concurrency: 10, pollIntervalMs: 1000 });
  const server = await startServer(stitch.config);
  const latencies: number[] = [];
  let messages = 0;
  try {
    const chunks = stream ? CHUNKS : 0;
    const flow = await createFlow(`bench-stream-${stream}`, {
      nodes: [{ id: 's', type: 'worker', position: { x: 0, y: 0 }, data: { workerType: 'bench-streamer', config: { stream } } }],
      edges: [],
    });
    for (let i = 0; i < runs; i++) {
      // The worker waits for the reader to connect before it streams.
      const { runId } = await startRun(flow.id, { input: { i } });
      const sse = readStream(server.url, runId, chunks);
      const got = await sse.done;
      sse.close();
      latencies.push(...got.arrivals);
      messages += got.messages;
      for (;;) {
        const { rows } = await stitch.db.pool.query(`SELECT status FROM stitch_runs WHERE id = $1`, [runId]);
        if (rows[0].status === 'completed') break;
        await new Promise((r) => setTimeout(r, 5));
      }
    }
  } finally {
    await server.close();
    await stitch.stop(); // its backends exit and report their table statistics
  }
  return { latencies, messages };
}

export async function benchStream(adminUrl: string): Promise<Record<string, number>> {
  setLogger(createLogger('error'));
  WORKER_DEFINITIONS['bench-streamer'] = { id: 'bench-streamer', name: 'Streamer', type: 'sync', description: 'streams numbered chunks', input: {}, output: {}, config: {} };
  if (!workerRegistry.has('bench-streamer')) workerRegistry.register('bench-streamer', Streamer);
  const url = await createBenchDatabase(adminUrl, 'stitch_stream');

  const { latencies, messages } = await session(url, RUNS, true);
  latencies.sort((a, b) => a - b);
  // Rows: one run without streaming, one with 1,000 chunks, each in its own session.
  const before = await rowsWritten(url);
  await session(url, 1, false);
  const quiet = (await rowsWritten(url)) - before;
  const middle = await rowsWritten(url);
  await session(url, 1, true);
  const streaming = (await rowsWritten(url)) - middle;

  const figures = {
    stream_chunk_ms: round(percentile(latencies, 50)),
    stream_chunk_p99_ms: round(percentile(latencies, 99)),
    stream_messages_per_1000_chunks: round((messages / RUNS) * (1000 / CHUNKS), 1),
    stream_rows_per_1000_chunks: streaming - quiet,
  };
  console.log(
    `streamed output (${RUNS} runs × ${CHUNKS} chunks at ~1,000/s, to an SSE client): p50 ${figures.stream_chunk_ms} ms, p99 ${figures.stream_chunk_p99_ms} ms, ` +
      `${figures.stream_messages_per_1000_chunks} SSE messages per 1,000 chunks; rows written by a run: ${quiet} without streaming, ${streaming} with 1,000 chunks`,
  );
  return figures;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const server = await openBenchServer();
  try {
    console.log(JSON.stringify(await benchStream(server.adminUrl)));
  } finally {
    await server.stop();
  }
  process.exit(0);
}

/**
 * `GET /metrics` in Prometheus text format. Gauges are read from the database at scrape time, so
 * any one process reports the whole system (scrape one `serve` process, or take max() across them).
 * The node-duration histogram counts node instances that settled since this process's first scrape,
 * read incrementally from the event log — node work happens in `worker` processes, not here.
 */
import { Hono } from 'hono';
import { Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Config } from '@/lib/config';
import { RUN_STATUSES, NODE_STATUSES } from '@/types/stitch';
import { spendByWorkerType } from '@/lib/usage/run-cost';
import { latestEventId } from '@/lib/db/queries/events';
import { countByStatus, readNodeDurations, readQueueBacklog, readQueueStats } from '@/lib/db/queries/queue-stats';
import { getPool } from '@/lib/db/pool';
import { readFairLoad } from '@/lib/db/queries/fair';
import { TOP_KEYS } from './queues';

/** Limits reported per scrape (by scope name): bounds the fair-share gauge's series with TOP_KEYS. */
const MAX_FAIR_SCOPES = 200;

/** Flow × worker type groups of the queue backlog one scrape reports (the busiest first). */
const MAX_BACKLOG_SERIES = 500;

/** Bounds one scrape's catch-up read; the rest is read by the next scrape. */
const MAX_DURATIONS_PER_SCRAPE = 20_000;

/** A gauge of row counts by status, every status present (0 when none). */
function statusGauge(registry: Registry, name: string, help: string, table: 'stitch_runs' | 'stitch_node_runs', statuses: readonly string[]) {
  return new Gauge({
    name,
    help,
    labelNames: ['status'],
    registers: [registry],
    async collect() {
      const counts = new Map((await countByStatus(getPool(), table)).map((r) => [r.status, r.n]));
      for (const status of statuses) this.set({ status }, counts.get(status) ?? 0);
    },
  });
}

function buildRegistry(config: Config) {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });

  statusGauge(registry, 'stitch_runs', 'Runs by status', 'stitch_runs', RUN_STATUSES);
  statusGauge(registry, 'stitch_node_instances', 'Node instances by status', 'stitch_node_runs', NODE_STATUSES);
  new Gauge({
    name: 'stitch_queue_jobs',
    help: 'Queue jobs by state: ready (due, unclaimed), scheduled (due later), locked (executing)',
    labelNames: ['state'],
    registers: [registry],
    async collect() {
      const q = await readQueueStats(getPool(), config.staleRunnerSeconds);
      this.set({ state: 'ready' }, q.ready);
      this.set({ state: 'scheduled' }, q.scheduled);
      this.set({ state: 'locked' }, q.locked);
    },
  });
  // Queue depth and waiting time per flow and integration, read once per scrape for all three.
  let backlog: Promise<Awaited<ReturnType<typeof readQueueBacklog>>> | undefined;
  const readBacklog = () => (backlog ??= readQueueBacklog(getPool(), MAX_BACKLOG_SERIES).finally(() => setImmediate(() => (backlog = undefined))));
  const backlogGauge = (name: string, help: string, value: (b: Awaited<ReturnType<typeof readQueueBacklog>>[number]) => number) =>
    new Gauge({
      name,
      help,
      labelNames: ['flow_id', 'flow', 'worker_type'],
      registers: [registry],
      async collect() {
        this.reset();
        for (const b of await readBacklog()) this.set({ flow_id: b.flowId, flow: b.flowName, worker_type: b.workerType }, value(b));
      },
    });
  backlogGauge('stitch_queue_ready_nodes', 'Node executions due and waiting for a runner, by flow and worker type (node type for engine nodes)', (b) => b.ready);
  backlogGauge('stitch_queue_wait_seconds', 'How long the oldest due node execution has waited, by flow and worker type', (b) => b.oldestWaitSeconds);
  backlogGauge('stitch_queue_scheduled_nodes', 'Node executions due later (retry backoff, priority offset, integration limits), by flow and worker type', (b) => b.scheduled);
  new Gauge({
    name: 'stitch_queue_live_runners',
    help: 'Queue runners with a fresh heartbeat',
    registers: [registry],
    async collect() {
      this.set((await readQueueStats(getPool(), config.staleRunnerSeconds)).liveRunners);
    },
  });

  new Gauge({
    // Read from the usage table at scrape time, like the gauges above: it only grows (a counter's
    // semantics) however many processes recorded it.
    name: 'stitch_cost_usd_total',
    help: 'USD spent on vendor calls (reported usage × the price table), by worker type; mock usage included',
    labelNames: ['worker_type'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const { workerType, usd } of await spendByWorkerType()) this.set({ worker_type: workerType }, usd);
    },
  });

  new Gauge({
    // Bounded: per limit, its TOP_KEYS busiest keys by name and the rest as key="other".
    name: 'stitch_fair_work',
    help: 'Work waiting for or holding a concurrency or rate slot, by flow, node ("" for the flow\'s runs), limit kind, key and state',
    labelNames: ['flow', 'node', 'kind', 'key', 'state'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const q of await readFairLoad(getPool(), { limit: MAX_FAIR_SCOPES, topKeys: TOP_KEYS })) {
        const base = { flow: q.flowName ?? q.flowId ?? '', node: q.nodeId ?? '', kind: q.kind };
        const keys = [...q.keys, ...(q.other ? [{ key: 'other', waiting: q.other.waiting, active: q.other.active }] : [])];
        for (const k of keys) {
          this.set({ ...base, key: k.key, state: 'waiting' }, k.waiting);
          this.set({ ...base, key: k.key, state: 'active' }, k.active);
        }
      }
    },
  });

  const durations = new Histogram({
    name: 'stitch_node_duration_seconds',
    help: 'Node instance duration (start to settle) by worker type and final status',
    labelNames: ['worker_type', 'status'],
    buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60, 300, 1800, 7200],
    registers: [registry],
  });
  let watermark: number | undefined;
  /** Feed the histogram with the nodes settled since the last scrape (before rendering it). */
  const readDurations = async () => {
    watermark ??= await latestEventId(getPool());
    for (let read = 0; read < MAX_DURATIONS_PER_SCRAPE; read += 5000) {
      const page = await readNodeDurations(getPool(), watermark, 5000);
      for (const d of page.durations) durations.observe({ worker_type: d.workerType, status: d.status }, d.seconds);
      if (page.lastId === watermark) break;
      watermark = page.lastId;
    }
  };
  return { registry, readDurations };
}

export function metricsRoutes(config: Config) {
  const app = new Hono();
  let metrics: ReturnType<typeof buildRegistry> | undefined;
  app.get('/metrics', async (c) => {
    metrics ??= buildRegistry(config);
    const { registry, readDurations } = metrics;
    await readDurations();
    const body = await registry.metrics();
    return c.body(body, 200, { 'Content-Type': registry.contentType });
  });
  return app;
}

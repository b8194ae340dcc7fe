/**
 * The trace of a run, written once it ended: a root span for the run and one span per node
 * attempt named by its node id, with the attempt's real start and end (an async node's span lasts
 * until its callback, a remote node's until its worker reported). Written from what the database
 * holds — node rows, the `node:running` / `node:retrying` events that bound earlier attempts, the
 * usage table — so nothing is added to the path a node takes, and a run is traced whichever
 * processes ran it.
 *
 * A sweep runs every second in each process that traces; the one that locks the watermark reads
 * the events since it (a primary-key range, at most SCAN_LIMIT), exports the runs that ended, and
 * moves the watermark up to the last event older than SETTLE_SECONDS (a transaction still open
 * then is not skipped). The spans go out through the SDK's batch processor; a process that dies
 * before it sent them loses them (traces are diagnostics, not state).
 */
import type { Attributes } from '@opentelemetry/api';
import type pg from 'pg';
import type { Logger } from 'pino';
import { withTransaction } from '@/lib/db/pool';
import { ensureTraceWatermark, lockTraceWatermark, readTracedRuns, scanEvents, setTraceWatermark, type TracedNode, type TracedRun } from '@/lib/db/queries/traces';
import { attemptSpanIdOf, runSpanIdOf } from './ids';
import { writeSpan } from './tracer';

const SWEEP_MS = 1000;
const SETTLE_SECONDS = 2;
const SCAN_LIMIT = 5000;

/** One attempt of one instance, with its bounds. */
interface AttemptSpan {
  attempt: number;
  start: Date;
  end: Date;
  status: string;
  error: string | null;
}

/** Every attempt of an instance: earlier ones end at their `node:retrying`, the last at the row's finish. */
export function attemptsOf(node: TracedNode, run: TracedRun): AttemptSpan[] {
  const events = run.events.filter((e) => e.instanceId === node.instanceId);
  const started = (a: number) => events.find((e) => e.type === 'node:running' && e.attempt === a)?.at;
  const retried = (a: number) => events.find((e) => e.type === 'node:retrying' && e.attempt === a);
  const spans: AttemptSpan[] = [];
  let previousEnd = node.createdAt;
  for (let a = 1; a <= node.attempt; a++) {
    const last = a === node.attempt;
    const retry = retried(a);
    const start = (last ? node.startedAt : undefined) ?? started(a) ?? previousEnd;
    const end = last ? (node.finishedAt ?? run.finishedAt ?? start) : (retry?.at ?? start);
    spans.push({ attempt: a, start, end, status: last ? node.status : 'retried', error: last ? node.error : (retry?.error ?? null) });
    previousEnd = end;
  }
  return spans;
}

/** Nodes that never ran (skipped, or cancelled before they started) have no span. */
const ran = (n: TracedNode) => n.status !== 'skipped' && !(n.status === 'cancelled' && !n.startedAt) && n.status !== 'pending';

export function writeRunTrace(run: TracedRun): number {
  const runSpan = runSpanIdOf(run.id);
  const end = run.finishedAt ?? new Date();
  const cost = Object.values(run.usd).reduce((sum, usd) => sum + usd, 0);
  writeSpan({
    name: run.flowName ? `run ${run.flowName}` : 'run',
    runId: run.id,
    spanId: runSpan,
    start: run.startedAt ?? run.createdAt,
    end,
    attributes: {
      'stitch.run_id': run.id,
      'stitch.status': run.status,
      'stitch.cost_usd': cost,
      ...(run.flowId ? { 'stitch.flow_id': run.flowId, 'stitch.flow_name': run.flowName ?? '' } : {}),
      ...(run.trigger ? { 'stitch.trigger': run.trigger } : {}),
    },
    error: run.status === 'failed' ? (run.error ?? 'failed') : null,
    // A sub-flow's run is its own trace, linked to the parent's attempt that started it.
    links: run.parent ? [{ runId: run.parent.runId, spanId: attemptSpanIdOf(run.parent), attributes: { 'stitch.link': 'parent attempt' } }] : undefined,
  });
  // A splitter's per-item rows (`split[0]`, …, one level deeper than its own instances) record
  // the fan-out; they are not executions.
  const splitterDepth = new Map<string, number>();
  for (const n of run.nodes) {
    if (run.types[n.nodeId]?.type === 'splitter') splitterDepth.set(n.nodeId, Math.min(splitterDepth.get(n.nodeId) ?? Infinity, n.itemPath.length));
  }
  let spans = 1;
  for (const node of run.nodes) {
    if (!ran(node) || node.itemPath.length > (splitterDepth.get(node.nodeId) ?? Infinity)) continue;
    const types = run.types[node.nodeId];
    for (const a of attemptsOf(node, run)) {
      const attributes: Attributes = {
        'stitch.node_id': node.nodeId,
        'stitch.instance_id': node.instanceId,
        'stitch.node_type': types?.type ?? 'unknown',
        'stitch.attempt': a.attempt,
        'stitch.status': a.status,
        'stitch.retry': a.attempt > 1,
        'stitch.cost_usd': run.usd[`${node.instanceId} ${a.attempt}`] ?? 0,
      };
      if (types?.workerType) attributes['stitch.worker_type'] = types.workerType;
      if (node.itemPath.length) attributes['stitch.item_path'] = node.itemPath.join('.');
      writeSpan({
        name: node.nodeId,
        runId: run.id,
        spanId: attemptSpanIdOf({ runId: run.id, instanceId: node.instanceId, attempt: a.attempt }),
        parentSpanId: runSpan,
        start: a.start,
        end: a.end,
        attributes,
        error: a.status === 'failed' || a.status === 'retried' ? (a.error ?? a.status) : null,
      });
      spans++;
    }
  }
  return spans;
}

/** One sweep: export the runs that ended since the watermark. Returns how many runs it exported. */
export async function sweepTraces(): Promise<number> {
  return withTransaction(async (client) => {
    const after = await lockTraceWatermark(client);
    if (after === undefined) return 0; // another process is sweeping
    const events = await scanEvents(client, after, SETTLE_SECONDS, SCAN_LIMIT);
    const firstUnsettled = events.findIndex((e) => !e.settled);
    const settled = firstUnsettled < 0 ? events : events.slice(0, firstUnsettled);
    if (settled.length === 0) return 0;
    const ended = [...new Set(settled.filter((e) => e.ends).map((e) => e.runId))];
    const runs = ended.length ? await readTracedRuns(client, ended) : [];
    for (const run of runs) writeRunTrace(run);
    await setTraceWatermark(client, settled[settled.length - 1].id);
    return runs.length;
  });
}

/** Sweep every second until stopped. */
export async function startTraceExport(pool: pg.Pool, logger: Logger): Promise<() => Promise<void>> {
  await ensureTraceWatermark(pool);
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<unknown> | undefined;
  let stopped = false;
  const tick = () => {
    running = sweepTraces()
      .catch((error) => logger.warn({ error: String(error) }, 'tracing: a sweep failed; the next one tries again'))
      .finally(() => {
        running = undefined;
        if (!stopped) timer = setTimeout(tick, SWEEP_MS);
      });
  };
  timer = setTimeout(tick, SWEEP_MS);
  return async () => {
    stopped = true;
    clearTimeout(timer);
    await running;
  };
}

/**
 * Trace and span ids derived from what every process already knows, so no process has to store or
 * pass on a trace context: a run's trace id is its uuid, its root span's id and each node
 * attempt's span id are hashes of the run, instance and attempt. A vendor call made inside an
 * attempt, a callback that arrives later in another process, a remote worker handed a
 * `traceparent`, and the exporter that writes the attempt's span once the run ended all name the
 * same ids (docs/operations.md, "Tracing").
 */
import { createHash } from 'node:crypto';

/** The attempt a span or a traceparent belongs to. */
export interface AttemptRef {
  runId: string;
  instanceId: string;
  attempt: number;
}

const spanIdOf = (text: string) => createHash('sha256').update(text).digest('hex').slice(0, 16);

/** A run's trace id: its uuid's 32 hex digits. */
export function traceIdOf(runId: string): string {
  return runId.replace(/-/g, '').toLowerCase();
}

/** The span id of a run's root span. */
export function runSpanIdOf(runId: string): string {
  return spanIdOf(`run ${runId}`);
}

/** The span id of one attempt of one node instance. */
export function attemptSpanIdOf(ref: AttemptRef): string {
  return spanIdOf(`attempt ${ref.runId} ${ref.instanceId} ${ref.attempt}`);
}

/** W3C `traceparent` naming a span of the run's trace (sampled). */
export function traceparentOf(runId: string, spanId: string): string {
  return `00-${traceIdOf(runId)}-${spanId}-01`;
}

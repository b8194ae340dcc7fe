/**
 * OpenTelemetry traces over OTLP/HTTP (docs/operations.md, "Tracing"), with the official SDK. Off
 * unless `OTEL_EXPORTER_OTLP_ENDPOINT` (or `…_TRACES_ENDPOINT`) is set: then the SDK is not even
 * loaded, and every hook elsewhere stops at `tracingOn()`, one boolean.
 *
 * Spans carry the ids of ids.ts, so any process can write any span of a run's trace: the exporter
 * (export.ts) writes a run's root span and one span per node attempt once the run ended, with
 * their real start and end times, and a vendor call or a callback writes its own span when it
 * happens, under an attempt span that may be written later, elsewhere.
 */
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Attributes, type Link, type Span, type Tracer } from '@opentelemetry/api';
import type { TracingConfig } from '@/lib/config';
import type { Logger } from 'pino';
import { currentHost } from '@/lib/host/current';
import { attemptSpanIdOf, traceIdOf, traceparentOf, type AttemptRef } from './ids';

interface Active {
  tracer: Tracer;
  flush(): Promise<void>;
  shutdown(): Promise<void>;
}

let active: Active | undefined;
/** The ids the next span takes (see `forcedIds`); set and cleared around one synchronous startSpan. */
let forced: { traceId?: string; spanId?: string } = {};

/** Whether traces are exported by this process. The one check every hook makes first. */
export function tracingOn(): boolean {
  return active !== undefined;
}

/** Load the SDK and export to `config.url`. Called once by startStitch when tracing is configured. */
export async function startTracing(config: TracingConfig, logger: Logger): Promise<void> {
  if (active) return;
  const [{ TracerProvider, BatchSpanProcessor, RandomIdGenerator }, { resourceFromAttributes }, exporterModule] = await Promise.all([
    import('@opentelemetry/sdk-trace'),
    import('@opentelemetry/resources'),
    config.protocol === 'http/json' ? import('@opentelemetry/exporter-trace-otlp-http') : import('@opentelemetry/exporter-trace-otlp-proto'),
  ]);
  const random = new RandomIdGenerator();
  const exporter = new exporterModule.OTLPTraceExporter({ url: config.url, headers: config.headers });
  const provider = new TracerProvider({
    resource: resourceFromAttributes({ 'service.name': config.serviceName }),
    // Ids of ids.ts where a span must have them, random ones elsewhere.
    idGenerator: {
      generateTraceId: () => forced.traceId ?? random.generateTraceId(),
      generateSpanId: () => forced.spanId ?? random.generateSpanId(),
    },
    spanProcessors: [new BatchSpanProcessor({ exporter, scheduledDelayMillis: 1000 })],
  });
  const tracer = provider.getTracer('stitch');
  active = { tracer, flush: () => provider.forceFlush(), shutdown: () => provider.shutdown() };
  logger.info({ url: new URL(config.url).origin, protocol: config.protocol }, 'tracing: exporting spans over OTLP/HTTP');
}

/** Send what is buffered and stop (a stopping process's last spans are not lost). */
export async function stopTracing(): Promise<void> {
  const a = active;
  active = undefined;
  await a?.shutdown();
}

/** Send what is buffered now (tests). */
export async function flushTracing(): Promise<void> {
  await active?.flush();
}

function startWithIds(tracer: Tracer, name: string, options: Parameters<Tracer['startSpan']>[1], ids: { traceId: string; spanId?: string; parentSpanId?: string }): Span {
  const parent = ids.parentSpanId ? trace.setSpanContext(ROOT_CONTEXT, { traceId: ids.traceId, spanId: ids.parentSpanId, traceFlags: 1, isRemote: true }) : ROOT_CONTEXT;
  forced = { traceId: ids.traceId, spanId: ids.spanId };
  try {
    return tracer.startSpan(name, options, parent);
  } finally {
    forced = {};
  }
}

/** A span whose times are known: written at once (the exporter's run and attempt spans, callbacks). */
export interface FinishedSpan {
  name: string;
  runId: string;
  /** Its own id (ids.ts); random when absent. */
  spanId?: string;
  /** Absent: the trace's root. */
  parentSpanId?: string;
  start: Date;
  end: Date;
  kind?: SpanKind;
  attributes: Attributes;
  /** Set for a span that ended in failure. */
  error?: string | null;
  links?: Array<{ runId: string; spanId: string; attributes?: Attributes }>;
}

export function writeSpan(s: FinishedSpan): void {
  const tracer = active?.tracer;
  if (!tracer) return;
  const links: Link[] = (s.links ?? []).map((l) => ({ context: { traceId: traceIdOf(l.runId), spanId: l.spanId, traceFlags: 1, isRemote: true }, attributes: l.attributes }));
  const span = startWithIds(tracer, s.name, { kind: s.kind ?? SpanKind.INTERNAL, startTime: s.start, attributes: s.attributes, links }, { traceId: traceIdOf(s.runId), spanId: s.spanId, parentSpanId: s.parentSpanId });
  if (s.error) span.setStatus({ code: SpanStatusCode.ERROR, message: s.error.slice(0, 500) });
  span.end(s.end < s.start ? s.start : s.end);
}

/** An outgoing call in progress, child of the attempt that makes it. */
export interface CallSpan {
  /** W3C traceparent naming this call's span, for the request's headers. */
  traceparent: string;
  end(status: number | undefined, error?: string): void;
}

/**
 * A client span for an HTTP call made inside a node attempt (a vendor call, the http-webhook
 * worker's request), child of the attempt's span. Undefined when tracing is off or the call is
 * made outside an attempt (an alert, a test).
 */
export function startCallSpan(name: string, url: URL, method: string, within?: AttemptRef): CallSpan | undefined {
  const tracer = active?.tracer;
  if (!tracer) return undefined;
  const attempt = within ?? currentHost().current;
  if (!attempt) return undefined;
  const span = startWithIds(
    tracer,
    name,
    {
      kind: SpanKind.CLIENT,
      // No query string: a vendor's key may travel there.
      attributes: { 'http.request.method': method, 'server.address': url.hostname, 'url.full': `${url.origin}${url.pathname}`, 'stitch.run_id': attempt.runId, 'stitch.instance_id': attempt.instanceId },
    },
    { traceId: traceIdOf(attempt.runId), parentSpanId: attemptSpanIdOf(attempt) },
  );
  return {
    traceparent: traceparentOf(attempt.runId, span.spanContext().spanId),
    end(status, error) {
      if (status !== undefined) span.setAttribute('http.response.status_code', status);
      if (error || (status !== undefined && status >= 400)) span.setStatus({ code: SpanStatusCode.ERROR, message: (error ?? `HTTP ${status}`).slice(0, 500) });
      span.end();
    },
  };
}

export { SpanKind };

/**
 * A callback (an async worker's HTTP callback, a remote worker's completion, a scheduled
 * callback) as a span of the run's trace: child of the attempt it completes, and linked to it, so
 * a viewer shows where the attempt's wait ended, whichever process took the callback.
 */
export function writeCallbackSpan(attempt: AttemptRef, nodeId: string, received: Date, status: string, applied: boolean, error?: string | null): void {
  const attemptSpan = attemptSpanIdOf(attempt);
  writeSpan({
    name: `callback ${nodeId}`,
    runId: attempt.runId,
    parentSpanId: attemptSpan,
    start: received,
    end: new Date(),
    kind: SpanKind.SERVER,
    attributes: { 'stitch.instance_id': attempt.instanceId, 'stitch.attempt': attempt.attempt, 'stitch.callback.status': status, 'stitch.callback.applied': applied },
    error: status === 'failed' ? (error ?? 'failed') : null,
    links: [{ runId: attempt.runId, spanId: attemptSpan, attributes: { 'stitch.link': 'completes attempt' } }],
  });
}

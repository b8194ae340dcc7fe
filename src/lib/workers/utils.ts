/**
 * The helpers every worker uses: callback URLs and callbacks, structured logging, error context,
 * durable scheduled callbacks and usage. Each is a thin delegate to the current worker host
 * (src/lib/host): the engine's inside a Stitch process, the test harness's under `runWorker`,
 * an HTTP one elsewhere.
 */
import type { WorkerCallback } from '@/types/stitch';
import { redactString } from '@/lib/log';
import { currentHost } from '@/lib/host/current';
import type { CompletionResult, LogLevel, UsageItem } from '@/lib/host/types';
import { checkUsage } from '@/lib/host/usage';
import { checkChunk } from '@/lib/host/stream-batcher';

export type { LogLevel, UsageItem };

/**
 * The URL a vendor POSTs to when async work finishes:
 * `${STITCH_BASE_URL}/api/stitch/callback/{runId}/{nodeId}?token=…`. The token is bound to this
 * run, this node instance and the attempt being executed; call it from inside `execute`.
 * (`options.attempt` is for code outside an execution, e.g. tests.)
 */
export function buildCallbackUrl(runId: string, nodeId: string, options: { attempt?: number } = {}): string {
  return currentHost().callbackUrl(runId, nodeId, options.attempt);
}

/**
 * Report a node's result. Inside a Stitch process this goes straight to the engine's completion;
 * elsewhere it POSTs to the node's callback URL. A result refused because the node already
 * settled (late or duplicate) is logged, not thrown: it is not the worker's failure.
 */
export async function triggerCallback(runId: string, nodeId: string, callback: WorkerCallback): Promise<CompletionResult | undefined> {
  if (callback?.status !== 'completed' && callback?.status !== 'failed') {
    throw new Error(`triggerCallback: status must be 'completed' or 'failed', got ${JSON.stringify(callback?.status)}`);
  }
  try {
    return await currentHost().complete(runId, nodeId, callback);
  } catch (error) {
    if ((error as { code?: string }).code !== 'conflict') throw error;
    logWorker('warn', 'Callback refused: the node is no longer waiting for this attempt', { runId, nodeId, reason: (error as Error).message });
    return undefined;
  }
}

/** Structured worker log line (pino); secrets in `context` are redacted. */
export function logWorker(level: LogLevel, message: string, context: Record<string, unknown> = {}): void {
  currentHost().log(level, message, context);
}

/**
 * Deliver `callback` for this node's current attempt after `delaySeconds`, durably (a restart
 * loses nothing). Async mocks and timers use it instead of `setTimeout`. Call it inside `execute`.
 */
export function scheduleCallback(
  runId: string,
  nodeId: string,
  callback: WorkerCallback,
  delaySeconds: number,
  options: { attempt?: number } = {},
): Promise<void> {
  return currentHost().scheduleCallback(runId, nodeId, callback, delaySeconds, options.attempt);
}

/**
 * `reportUsage(runId, nodeId, [{unit, quantity}])`: what a node's vendor call used, in the units
 * the vendor bills (`input_tokens`, `characters`, `video_seconds`, …), priced from the price
 * table. Callable from inside `execute` and from code that runs later for the node (a
 * `parseCallback`, a `poll()`): it is then the node's current attempt.
 */
export async function reportUsage(runId: string, nodeId: string, usage: UsageItem[]): Promise<void> {
  const items = checkUsage(usage);
  await currentHost().reportUsage(runId, nodeId, items);
}

/**
 * `streamOutput(runId, nodeId, chunk)`: partial output of this node while it runs — text as a
 * model writes it, or a small JSON object (≤ 4 KiB) such as `{frame: 120, of: 300}`. Whoever
 * follows the run sees it as it comes (`node:stream` on `GET /api/runs/:id/events`, the canvas
 * inspector, `stitch run`), coalesced to one message per ~50 ms however often it is called. It is
 * not stored: the node's output is still what `triggerCallback` reports. Call it inside `execute`
 * (or `poll`); it returns at once and never waits for readers.
 */
export function streamOutput(runId: string, nodeId: string, chunk: string | Record<string, unknown>): void {
  currentHost().stream(runId, nodeId, checkChunk(chunk));
}

/** Loggable facts about an error: name, code, HTTP status, cause — never the request's secrets. */
export function extractErrorContext(error: unknown): Record<string, unknown> {
  if (!(error instanceof Error)) return { errorType: typeof error, errorValue: redactString(String(error)) };
  const e = error as Error & { code?: unknown; status?: unknown; statusCode?: unknown; cause?: unknown };
  const context: Record<string, unknown> = { errorName: e.name };
  if (e.code !== undefined) context.errorCode = e.code;
  const status = e.status ?? e.statusCode;
  if (status !== undefined) context.httpStatus = status;
  if (e.cause !== undefined) context.cause = e.cause instanceof Error ? e.cause.message : String(e.cause);
  if (e.stack) context.stack = e.stack.split('\n').slice(0, 6).join('\n');
  return context;
}

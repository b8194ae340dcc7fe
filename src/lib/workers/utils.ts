/**
 * The helpers every worker uses: callback URLs and callbacks, structured logging, error context,
 * and scheduled (durable) callbacks for async mocks and timers.
 */
import type { WorkerCallback } from '@/types/stitch';
import { getConfig } from '@/lib/config';
import { getLogger, redact, redactString } from '@/lib/log';
import { createCallbackToken } from '@/lib/engine/callback-tokens';
import { currentAttemptFor, currentHarness } from '@/lib/engine/execution-context';
import { getLocalCompleter, type CompletionResult } from '@/lib/engine/local-completion';
import { DEFAULT_TIMEOUT_SECONDS } from './registry';

/** Tokens stay valid a day past the callback deadline (late callbacks are refused by state anyway). */
const TOKEN_GRACE_SECONDS = 86_400;

/**
 * The URL a vendor POSTs to when async work finishes:
 * `${STITCH_BASE_URL}/api/stitch/callback/{runId}/{nodeId}?token=…`. The token is bound to this
 * run, this node instance and the attempt being executed; call it from inside `execute`.
 * (`options.attempt` is for code outside an execution, e.g. tests.)
 */
export function buildCallbackUrl(runId: string, nodeId: string, options: { attempt?: number } = {}): string {
  const ctx = currentAttemptFor(runId, nodeId);
  const attempt = options.attempt ?? ctx?.attempt;
  if (attempt === undefined) {
    throw new Error(
      `buildCallbackUrl(${runId}, ${nodeId}) was called outside that node's execution, so the attempt is unknown: ` +
        'call it inside execute(), or pass { attempt }.',
    );
  }
  const ttl = (ctx?.deadlineSeconds ?? DEFAULT_TIMEOUT_SECONDS) + TOKEN_GRACE_SECONDS;
  const token = createCallbackToken(runId, nodeId, attempt, ttl);
  const url = `${getConfig().baseUrl}/api/stitch/callback/${encodeURIComponent(runId)}/${encodeURIComponent(nodeId)}?token=${token}`;
  currentHarness()?.callbackUrl(url); // test seam: the harness records the URL handed out
  return url;
}

/**
 * Report a node's result. Inside a Stitch process this goes straight to the engine's completion
 * function; elsewhere it POSTs to the node's callback URL. A result the engine refuses because the
 * node already settled (late or duplicate) is logged, not thrown: it is not the worker's failure.
 */
export async function triggerCallback(runId: string, nodeId: string, callback: WorkerCallback): Promise<CompletionResult | undefined> {
  if (callback?.status !== 'completed' && callback?.status !== 'failed') {
    throw new Error(`triggerCallback: status must be 'completed' or 'failed', got ${JSON.stringify(callback?.status)}`);
  }
  const ctx = currentAttemptFor(runId, nodeId);
  if (ctx) ctx.callbacks += 1;
  // Test seam: under the worker test harness (testing.ts) the result is recorded, not settled.
  const harness = currentHarness();
  if (harness) {
    await harness.complete(runId, nodeId, callback);
    return { ok: true };
  }
  const complete = getLocalCompleter();
  if (complete) {
    try {
      return await complete({ runId, instanceId: nodeId, attempt: ctx?.attempt, ...callback });
    } catch (error) {
      if ((error as { code?: string }).code === 'conflict') {
        logWorker('warn', 'Callback refused: the node is no longer waiting for this attempt', {
          runId,
          nodeId,
          reason: (error as Error).message,
        });
        return undefined;
      }
      throw error;
    }
  }
  const response = await fetch(buildCallbackUrl(runId, nodeId), {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(callback),
  });
  if (response.status === 409) {
    logWorker('warn', 'Callback refused: the node is no longer waiting for this attempt', { runId, nodeId });
    return undefined;
  }
  if (!response.ok) {
    throw new Error(`Callback POST failed with status ${response.status}: ${await response.text()}`);
  }
  return (await response.json()) as CompletionResult;
}

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/** Structured worker log line (pino); secrets in `context` are redacted. */
export function logWorker(level: LogLevel, message: string, context: Record<string, unknown> = {}): void {
  const harness = currentHarness(); // test seam: the harness collects the lines (redacted)
  if (harness) harness.log(level, redactString(message), redact(context) as Record<string, unknown>);
  else getLogger()[level](context, message);
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

export { scheduleCallback } from '@/lib/engine/scheduled-callback';
export { reportUsage, type UsageItem } from '@/lib/usage/report';

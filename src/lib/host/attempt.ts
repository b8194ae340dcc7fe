/** Which attempt a worker's call is about, and the callback URL signed for it. */
import { createCallbackToken } from './callback-tokens';
import type { HostAttempt, WorkerHost } from './types';

/** The callback deadline of an attempt whose worker names none (src/lib/workers/registry.ts re-exports it). */
export const DEFAULT_TIMEOUT_SECONDS = 600;

/** Tokens stay valid a day past the callback deadline (late callbacks are refused by state anyway). */
export const TOKEN_GRACE_SECONDS = 86_400;

/** The host's attempt if it is the one for (runId, nodeId): a worker may name another node. */
export function attemptFor(host: WorkerHost, runId: string, nodeId: string): HostAttempt | undefined {
  const a = host.current;
  return a && a.runId === runId && a.instanceId === nodeId ? a : undefined;
}

/** The attempt a call names: the explicit one, else the host's own for that node. */
export function requireAttempt(host: WorkerHost, what: string, runId: string, nodeId: string, attempt?: number): number {
  const known = attempt ?? attemptFor(host, runId, nodeId)?.attempt;
  if (known === undefined) {
    throw new Error(
      `${what}(${runId}, ${nodeId}) was called outside that node's execution, so the attempt is unknown: ` +
        'call it inside execute(), or pass { attempt }.',
    );
  }
  return known;
}

/**
 * `${baseUrl}/api/stitch/callback/{runId}/{nodeId}?token=…`, the token bound to this run, node
 * instance and attempt, valid until a day past the attempt's callback deadline.
 */
export function signedCallbackUrl(baseUrl: string, host: WorkerHost, runId: string, nodeId: string, attempt?: number): string {
  return signedUrl('callback', baseUrl, host, runId, nodeId, requireAttempt(host, 'buildCallbackUrl', runId, nodeId, attempt));
}

/** `${baseUrl}/api/stitch/stream/{runId}/{nodeId}?token=…`: where code outside Stitch POSTs streamed parts (same token). */
export function signedStreamUrl(baseUrl: string, host: WorkerHost, runId: string, nodeId: string, attempt: number): string {
  return signedUrl('stream', baseUrl, host, runId, nodeId, attempt);
}

function signedUrl(kind: 'callback' | 'stream', baseUrl: string, host: WorkerHost, runId: string, nodeId: string, attempt: number): string {
  const ttl = (attemptFor(host, runId, nodeId)?.deadlineSeconds ?? DEFAULT_TIMEOUT_SECONDS) + TOKEN_GRACE_SECONDS;
  const token = createCallbackToken(runId, nodeId, attempt, ttl);
  return `${baseUrl}/api/stitch/${kind}/${encodeURIComponent(runId)}/${encodeURIComponent(nodeId)}?token=${token}`;
}

/**
 * Transient database faults, told apart from everything else.
 *
 * - `retryTransient`: every transition is one statement (its own transaction) guarded by
 *   compare-and-set, so when PostgreSQL aborts it for a deadlock or a serialization failure nothing
 *   happened and running it again is exact. With one lock order (docs/architecture.md) deadlocks
 *   should not happen; this stays as the guard.
 * - `isInfrastructureError`: the database is unreachable, restarting or out of resources. Only such
 *   errors may be left to the queue's own retries (the job runs again later); anything else thrown
 *   inside a job is a fault of the node and ends it (design §9: every run ends).
 */
import { getLogger } from '@/lib/log';

/** SQLSTATEs after which the same statement may simply run again. */
const RETRYABLE_SQLSTATES = new Set(['40P01', '40001']);
const ATTEMPTS = 5;

/** Socket-level error codes of a lost or refused database connection. */
const CONNECTION_ERROR_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);

/** node-postgres reports a dropped connection without a code, in one of these words. */
const CONNECTION_MESSAGES = /Connection terminated|connection timeout|Client has encountered a connection error|Client was closed|Connection ended|the database system is (starting up|shutting down|in recovery mode)|timeout exceeded when trying to connect/i;

function codeOf(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** The database cannot be reached or is going away: class 08, 57P0x (shutdown, crash), socket errors. */
export function isConnectionError(error: unknown): boolean {
  const code = codeOf(error);
  if (code && (CONNECTION_ERROR_CODES.has(code) || code.startsWith('08') || /^57P0[1-4]$/.test(code))) return true;
  return error instanceof Error && CONNECTION_MESSAGES.test(error.message);
}

/**
 * Faults of the infrastructure, not of the work: connection loss, server shutdown, insufficient
 * resources (53xxx), system errors (58xxx), lock and serialization conflicts.
 */
export function isInfrastructureError(error: unknown): boolean {
  if (isConnectionError(error)) return true;
  const code = codeOf(error);
  return !!code && (RETRYABLE_SQLSTATES.has(code) || code === '55P03' || code.startsWith('53') || code.startsWith('58'));
}

let transientRetries = 0;

/** How many times a transition ran again after a deadlock or serialization failure (tests watch it stay 0). */
export function transientRetryCount(): number {
  return transientRetries;
}

export async function retryTransient<T>(what: string, run: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await run();
    } catch (error) {
      const code = codeOf(error);
      if (!code || !RETRYABLE_SQLSTATES.has(code) || attempt >= ATTEMPTS) throw error;
      transientRetries += 1;
      const delay = Math.round(5 * 2 ** attempt * (0.5 + Math.random()));
      getLogger().warn({ what, code, attempt, delay }, 'transition hit a transient conflict; running it again');
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}

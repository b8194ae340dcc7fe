/**
 * Transient database conflicts on a transition. Every transition is one statement (its own
 * transaction) guarded by compare-and-set, so when PostgreSQL aborts it for a deadlock or a
 * serialization failure nothing happened and running it again is exact. Without this, a deadlock
 * between an item's settle and a concurrent `stitch_abort_run` surfaced inside the worker's
 * `triggerCallback` and failed the run with "deadlock detected".
 */
import { getLogger } from '@/lib/log';

/** SQLSTATEs after which the same statement may simply run again. */
const RETRYABLE_SQLSTATES = new Set(['40P01', '40001']);
const ATTEMPTS = 5;

export async function retryTransient<T>(what: string, run: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await run();
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (!code || !RETRYABLE_SQLSTATES.has(code) || attempt >= ATTEMPTS) throw error;
      const delay = Math.round(5 * 2 ** attempt * (0.5 + Math.random()));
      getLogger().debug({ what, code, attempt, delay }, 'transition hit a transient conflict; running it again');
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}

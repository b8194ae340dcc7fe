/**
 * Coalesced event notifications for item instances. A NOTIFY serialises commits database-wide (see
 * stitch_emit in 0004_node_vocabulary.sql), so the settle of a splitter item appends its events
 * without one, and this process sends one NOTIFY per run for all of them a moment later, in one
 * statement. The event hub re-reads a run's recent events on every NOTIFY, so nothing is lost; if
 * the process dies within the delay, the run's next notifying transition (its collector at the
 * latest) announces them.
 */
import { getPool } from '@/lib/db/pool';
import { getLogger } from '@/lib/log';
import { notifyRuns } from '@/lib/db/queries/events';

const DELAY_MS = 50;
const pending = new Set<string>();
let timer: NodeJS.Timeout | undefined;

async function flush(): Promise<void> {
  timer = undefined;
  const runIds = [...pending];
  pending.clear();
  if (runIds.length === 0) return;
  try {
    await notifyRuns(getPool(), runIds);
  } catch (error) {
    getLogger().debug({ error: String(error) }, 'deferred event notification failed');
  }
}

/** Announce `runId`'s new events within DELAY_MS (one NOTIFY for however many settles). */
export function notifySoon(runId: string): void {
  pending.add(runId);
  timer ??= setTimeout(() => void flush(), DELAY_MS);
  timer.unref();
}

/**
 * Long-polls waiting for remote tasks. Every waiting poll in this process shares the event hub's
 * one LISTEN connection (channel `stitch_tasks`, payload = the worker type that became ready); a
 * NOTIFY wakes the polls waiting for that type, which then race for the rows with SKIP LOCKED.
 *
 * A poll registers its waiter BEFORE it looks for rows, so a task committed between its empty
 * claim and its wait still wakes it (no lost wake-up); a re-established connection wakes every
 * waiter, since NOTIFYs sent meanwhile are gone.
 */
import { getEventHub } from '../events/event-hub';

const CHANNEL = 'stitch_tasks';

export interface Waiter {
  /** Resolves on a wake-up for one of the waiter's types, at `until`, or on shutdown/abort. */
  wait(until: number, signal?: AbortSignal): Promise<void>;
  cancel(): void;
}

interface Entry {
  types: Set<string>;
  wake: () => void;
  woken: boolean;
}

const waiters = new Set<Entry>();
let listening: Promise<unknown> | undefined;

function wakeWhere(match: (entry: Entry) => boolean): void {
  for (const entry of waiters) {
    if (match(entry)) {
      entry.woken = true;
      entry.wake();
    }
  }
}

function ensureListening(): Promise<unknown> {
  listening ??= getEventHub()
    .listen(CHANNEL, {
      onNotify: (type) => wakeWhere((e) => e.types.has(type)),
      onReconnect: () => wakeWhere(() => true),
      onClose: () => {
        listening = undefined;
        wakeWhere(() => true);
      },
    })
    .catch((error) => {
      listening = undefined;
      throw error;
    });
  return listening;
}

/** Start waiting for `types` (call before looking for rows). */
export async function registerWaiter(types: string[]): Promise<Waiter> {
  await ensureListening();
  const entry: Entry = { types: new Set(types), wake: () => {}, woken: false };
  waiters.add(entry);
  return {
    wait(until, signal) {
      if (entry.woken || signal?.aborted) return Promise.resolve();
      return new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          signal?.removeEventListener('abort', done);
          resolve();
        };
        const timer = setTimeout(done, Math.max(0, until - Date.now()));
        signal?.addEventListener('abort', done);
        entry.wake = done;
      });
    },
    cancel() {
      waiters.delete(entry);
    },
  };
}

/**
 * The process's one LISTEN connection (src/lib/live/listener.ts), fanned out to every SSE stream in it. Whichever process
 * changed state (a `worker` process, another `serve`), its transaction appended rows to
 * `stitch_events` and sent `NOTIFY stitch_events {"runId", "id"}` at commit; the hub reads the rows.
 *
 * Event ids come from a sequence and are taken before commit, so a smaller id can become visible
 * after a larger one (two branches of a run committing at once). The hub therefore never reads
 * "after the last id" alone: on each NOTIFY for a run it re-reads that run's events from
 * WINDOW ids below the lowest of (what it has seen, the notified id) and drops those it already
 * delivered. A late commit sends its own NOTIFY, so its events are read then. Reads for many
 * runs are coalesced into one query; a lost connection is re-established (by the listener) and
 * followed by a catch-up read, so a dropped NOTIFY loses nothing either. Streams dedupe by id once more.
 */
import type { StitchEvent } from '@/types/stitch';
import { getPool } from '@/lib/db/pool';
import { getLogger } from '@/lib/log';
import { isChannelName } from '@/lib/db/queries/notifications';
import { liveListener } from '@/lib/live/listener';
import { latestEventId, readEventsAfter, readRunWindows } from '@/lib/db/queries/events';

/**
 * How far below a run's newest seen id a late commit may land. Ids are global, so this bounds
 * the ids other transactions take while one commits; one commit's own events are one INSERT.
 */
export const STRAGGLER_WINDOW = 5000;
/** Per-run bookkeeping is dropped after this long without a NOTIFY for the run. */
const RUN_STATE_TTL_MS = 60_000;
const ALL_RUNS = '*';

/** A listener on another NOTIFY channel carried by the hub's connection (e.g. `stitch_tasks`). */
export interface ChannelListener {
  onNotify(payload: string): void;
  /** The LISTEN connection was re-established: NOTIFYs may have been missed meanwhile. */
  onReconnect(): void;
  /** The hub stopped (server shutdown). */
  onClose(): void;
}

export interface EventSubscriber {
  onEvents(events: StitchEvent[]): void;
  /** The hub stopped (server shutdown): end the stream. */
  onClose(): void;
}

interface RunState {
  max: number;
  seen: Set<number>;
  touched: number;
}

export class EventHub {
  #subscribers = new Map<string, Set<EventSubscriber>>();
  #channels = new Map<string, Set<ChannelListener>>();
  #runs = new Map<string, RunState>();
  #pending = new Map<string, number>();
  /** LISTEN on stitch_events through the process's live connection (src/lib/live/listener.ts), once. */
  #listening: Promise<void> | undefined;
  #offs: Array<() => void> = [];
  #flushing = false;
  #stopped = false;
  #globalMax = 0;

  /** Subscribe to one run's events (or every run's, with `runId` null). Resolves once LISTEN is active. */
  async subscribe(runId: string | null, subscriber: EventSubscriber): Promise<() => void> {
    if (this.#stopped) throw new Error('The event hub is stopped');
    const key = runId ?? ALL_RUNS;
    let set = this.#subscribers.get(key);
    if (!set) this.#subscribers.set(key, (set = new Set()));
    set.add(subscriber);
    const unsubscribe = () => {
      set.delete(subscriber);
      if (set.size === 0 && this.#subscribers.get(key) === set) this.#subscribers.delete(key);
    };
    try {
      await this.#ensureListening();
    } catch (error) {
      unsubscribe();
      throw error;
    }
    return unsubscribe;
  }

  /**
   * Listen on another channel over the same connection (one LISTEN connection per process, however
   * many long-polls wait). Resolves once LISTEN is active.
   */
  async listen(channel: string, listener: ChannelListener): Promise<() => void> {
    if (this.#stopped) throw new Error('The event hub is stopped');
    if (!isChannelName(channel)) throw new Error(`Invalid channel name "${channel}"`);
    let set = this.#channels.get(channel);
    if (!set) this.#channels.set(channel, (set = new Set()));
    set.add(listener);
    try {
      await this.#ensureListening();
      const off = await liveListener().on(channel, (payload) => listener.onNotify(payload));
      this.#offs.push(off);
      return () => {
        off();
        set.delete(listener);
      };
    } catch (error) {
      set.delete(listener);
      throw error;
    }
  }

  /** Stop listening and end every subscribed stream. */
  async stop(): Promise<void> {
    this.#stopped = true;
    for (const off of this.#offs.splice(0)) off();
    for (const set of this.#subscribers.values()) for (const s of set) s.onClose();
    this.#subscribers.clear();
    for (const set of this.#channels.values()) for (const l of set) l.onClose();
    this.#channels.clear();
  }

  #ensureListening(): Promise<void> {
    this.#listening ??= this.#listen().catch((error) => {
      this.#listening = undefined;
      throw error;
    });
    return this.#listening;
  }

  async #listen(): Promise<void> {
    const live = liveListener();
    this.#offs.push(await live.on('stitch_events', (payload) => this.#onNotify(payload)));
    this.#globalMax = await latestEventId(getPool());
    // NOTIFYs sent while the connection was down are gone: read what they announced.
    this.#offs.push(
      live.onReconnect(() => {
        for (const set of this.#channels.values()) for (const l of set) l.onReconnect();
        this.#catchUp().catch((error) => getLogger().warn({ error: (error as Error).message }, 'event stream: catching up failed'));
      }),
    );
    // Stitch stopped (its connection with it): end the streams; clients reconnect to what comes next.
    this.#offs.push(live.onStop(() => void stopEventHub()));
  }

  async #catchUp(): Promise<void> {
    let after = Math.max(0, this.#globalMax - STRAGGLER_WINDOW);
    for (;;) {
      const events = await readEventsAfter(getPool(), null, after, 5000);
      this.#deliver(events.filter((e) => this.#wants(e.runId)));
      if (events.length < 5000) return;
      after = events[events.length - 1].id;
    }
  }

  #wants(runId: string): boolean {
    return this.#subscribers.has(runId) || this.#subscribers.has(ALL_RUNS);
  }

  #onNotify(payload: string | undefined): void {
    let notice: { runId?: unknown; id?: unknown };
    try {
      notice = JSON.parse(payload ?? '');
    } catch {
      return;
    }
    if (typeof notice.runId !== 'string' || typeof notice.id !== 'number') return;
    if (!this.#wants(notice.runId)) return;
    this.#pending.set(notice.runId, Math.max(this.#pending.get(notice.runId) ?? 0, notice.id));
    void this.#flush();
  }

  /** Read every run with a pending NOTIFY in one query; loop while more arrive meanwhile. */
  async #flush(): Promise<void> {
    if (this.#flushing) return;
    this.#flushing = true;
    let batch: Array<[string, number]> = [];
    try {
      while (this.#pending.size > 0 && !this.#stopped) {
        batch = [...this.#pending];
        this.#pending.clear();
        const windows = batch.map(([runId, notified]) => {
          const seenMax = this.#runs.get(runId)?.max ?? notified;
          return { runId, afterId: Math.max(0, Math.min(seenMax, notified) - STRAGGLER_WINDOW) };
        });
        this.#deliver(await readRunWindows(getPool(), windows));
        batch = [];
      }
    } catch (error) {
      // Put the batch back and try again shortly: the rows are in the table, nothing is lost.
      for (const [runId, id] of batch) this.#pending.set(runId, Math.max(this.#pending.get(runId) ?? 0, id));
      getLogger().warn({ error: (error as Error).message }, 'event stream: reading events failed; retrying');
      setTimeout(() => void this.#flush(), 1000).unref();
    } finally {
      this.#flushing = false;
    }
    this.#pruneRunState();
  }

  #deliver(events: StitchEvent[]): void {
    const now = Date.now();
    const fresh: StitchEvent[] = [];
    for (const event of events) {
      let state = this.#runs.get(event.runId);
      if (!state) this.#runs.set(event.runId, (state = { max: 0, seen: new Set(), touched: now }));
      state.touched = now;
      if (state.seen.has(event.id)) continue;
      state.seen.add(event.id);
      state.max = Math.max(state.max, event.id);
      this.#globalMax = Math.max(this.#globalMax, event.id);
      fresh.push(event);
    }
    if (fresh.length === 0) return;
    const byRun = new Map<string, StitchEvent[]>();
    for (const event of fresh) {
      const list = byRun.get(event.runId);
      if (list) list.push(event);
      else byRun.set(event.runId, [event]);
    }
    for (const [runId, list] of byRun) for (const s of this.#subscribers.get(runId) ?? []) s.onEvents(list);
    for (const s of this.#subscribers.get(ALL_RUNS) ?? []) s.onEvents(fresh);
  }

  #pruneRunState(): void {
    const now = Date.now();
    for (const [runId, state] of this.#runs) {
      if (now - state.touched > RUN_STATE_TTL_MS) {
        this.#runs.delete(runId);
        continue;
      }
      if (state.seen.size > 2 * STRAGGLER_WINDOW) {
        for (const id of state.seen) if (id < state.max - STRAGGLER_WINDOW) state.seen.delete(id);
      }
    }
  }
}

let hub: EventHub | undefined;

/** The process's hub, created on first use. */
export function getEventHub(): EventHub {
  hub ??= new EventHub();
  return hub;
}

export async function stopEventHub(): Promise<void> {
  const current = hub;
  hub = undefined;
  await current?.stop();
}

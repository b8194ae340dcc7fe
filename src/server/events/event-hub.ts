/**
 * One LISTEN connection per process, fanned out to every SSE stream in it. Whichever process
 * changed state (a `worker` process, another `serve`), its transaction appended rows to
 * `stitch_events` and sent `NOTIFY stitch_events {"runId", "id"}` at commit; the hub reads the rows.
 *
 * Event ids come from a sequence and are taken before commit, so a smaller id can become visible
 * after a larger one (two branches of a run committing at once). The hub therefore never reads
 * "after the last id" alone: on each NOTIFY for a run it re-reads that run's events from
 * WINDOW ids below the lowest of (what it has seen, the notified id) and drops those it already
 * delivered. A late commit sends its own NOTIFY, so its events are read then. Reads for many
 * runs are coalesced into one query; a lost connection is re-established and followed by a
 * catch-up read, so a dropped NOTIFY loses nothing either. Streams dedupe by id once more.
 */
import type pg from 'pg';
import type { StitchEvent } from '@/types/stitch';
import { getPool } from '@/lib/db/pool';
import { getLogger } from '@/lib/log';
import { isChannelName, listen, unlisten } from '@/lib/db/queries/notifications';
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
  #client: pg.PoolClient | undefined;
  #connecting: Promise<void> | undefined;
  #flushing = false;
  #stopped = false;
  #globalMax = 0;
  #retryDelayMs = 250;

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
    const first = !set;
    if (!set) this.#channels.set(channel, (set = new Set()));
    set.add(listener);
    const unlisten = () => void set.delete(listener);
    try {
      const connecting = !this.#client;
      await this.#ensureListening();
      // A connection made just now LISTENed on every known channel already.
      if (first && !connecting && this.#client) await listen(this.#client, channel);
    } catch (error) {
      unlisten();
      throw error;
    }
    return unlisten;
  }

  /** Stop listening and end every subscribed stream. */
  async stop(): Promise<void> {
    this.#stopped = true;
    for (const set of this.#subscribers.values()) for (const s of set) s.onClose();
    this.#subscribers.clear();
    for (const set of this.#channels.values()) for (const l of set) l.onClose();
    this.#channels.clear();
    const client = this.#client;
    this.#client = undefined;
    if (client) {
      await unlisten(client, '*').catch(() => {});
      client.release();
    }
  }

  #ensureListening(): Promise<void> {
    if (this.#client) return Promise.resolve();
    this.#connecting ??= this.#connect().finally(() => (this.#connecting = undefined));
    return this.#connecting;
  }

  async #connect(): Promise<void> {
    const client = await getPool().connect();
    const reconnecting = this.#globalMax > 0;
    client.on('notification', (message) => {
      if (message.channel === 'stitch_events') this.#onNotify(message.payload);
      else for (const l of this.#channels.get(message.channel) ?? []) l.onNotify(message.payload ?? '');
    });
    client.on('error', (error) => this.#onLost(client, error));
    client.on('end', () => this.#onLost(client));
    try {
      await listen(client, 'stitch_events');
      for (const channel of this.#channels.keys()) await listen(client, channel);
      if (!reconnecting) this.#globalMax = await latestEventId(getPool());
    } catch (error) {
      client.release(true);
      throw error;
    }
    if (this.#stopped) {
      client.release();
      return;
    }
    this.#client = client;
    this.#retryDelayMs = 250;
    // NOTIFYs sent while we were not listening are gone: read what they announced.
    if (reconnecting) {
      for (const set of this.#channels.values()) for (const l of set) l.onReconnect();
      await this.#catchUp();
    }
  }

  #onLost(client: pg.PoolClient, error?: Error): void {
    if (this.#client !== client) return;
    this.#client = undefined;
    client.release(error ?? true);
    if (this.#stopped) return;
    getLogger().warn({ error: error?.message }, 'event stream: lost the LISTEN connection; reconnecting');
    this.#scheduleReconnect();
  }

  #scheduleReconnect(): void {
    const delay = this.#retryDelayMs;
    this.#retryDelayMs = Math.min(this.#retryDelayMs * 2, 5000);
    setTimeout(() => {
      if (this.#stopped || this.#client || (this.#subscribers.size === 0 && this.#channels.size === 0)) return;
      this.#ensureListening().catch(() => this.#scheduleReconnect());
    }, delay).unref();
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

/**
 * The process's one LISTEN connection: event notifications for SSE (`stitch_events`, the server's
 * event hub), remote task wake-ups (`stitch_tasks`), and live, ephemeral messages between
 * processes — what is never a row (design §10): streamed output (`stitch_stream`) and engine
 * control (`stitch_control`: requests to replay a stream, pause barriers). `serve` and `worker` may
 * be separate processes, so whoever produces a stream and whoever shows it meet here.
 *
 * It connects on first use and reconnects with back-off; NOTIFYs sent while it was away are gone,
 * so `onReconnect` hooks re-ask for what they may have missed.
 */
import type pg from 'pg';
import { getPool } from '@/lib/db/pool';
import { listen, unlisten } from '@/lib/db/queries/notifications';
import { getLogger } from '@/lib/log';

type Handler = (payload: string) => void;

class LiveListener {
  #handlers = new Map<string, Set<Handler>>();
  #reconnectHooks = new Set<() => void>();
  #stopHooks = new Set<() => void>();
  #client: pg.PoolClient | undefined;
  #connecting: Promise<void> | undefined;
  #everConnected = false;
  #stopped = false;
  #retryDelayMs = 250;

  /** Call `handler` with every NOTIFY payload on `channel`; resolves once LISTEN is active. */
  async on(channel: string, handler: Handler): Promise<() => void> {
    let set = this.#handlers.get(channel);
    const first = !set;
    if (!set) this.#handlers.set(channel, (set = new Set()));
    set.add(handler);
    const off = () => void set.delete(handler);
    try {
      const connecting = !this.#client;
      await this.#ensure();
      // A connection made just now LISTENed on every known channel already.
      if (first && !connecting && this.#client) await listen(this.#client, channel);
    } catch (error) {
      off();
      throw error;
    }
    return off;
  }

  /** Called after the connection was re-established (messages may have been missed). */
  onReconnect(hook: () => void): () => void {
    this.#reconnectHooks.add(hook);
    return () => void this.#reconnectHooks.delete(hook);
  }

  /** Called once when Stitch stops this listener (its users end what depends on it). */
  onStop(hook: () => void): () => void {
    this.#stopHooks.add(hook);
    return () => void this.#stopHooks.delete(hook);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    for (const hook of [...this.#stopHooks]) hook();
    this.#stopHooks.clear();
    this.#handlers.clear();
    this.#reconnectHooks.clear();
    const client = this.#client;
    this.#client = undefined;
    await this.#connecting?.catch(() => {});
    if (client) {
      await unlisten(client, '*').catch(() => {});
      client.release();
    }
  }

  #ensure(): Promise<void> {
    if (this.#stopped) return Promise.reject(new Error('Stitch has stopped'));
    if (this.#client) return Promise.resolve();
    this.#connecting ??= this.#connect().finally(() => (this.#connecting = undefined));
    return this.#connecting;
  }

  async #connect(): Promise<void> {
    const client = await getPool().connect();
    client.on('notification', (message) => {
      for (const handler of this.#handlers.get(message.channel) ?? []) {
        try {
          handler(message.payload ?? '');
        } catch (error) {
          getLogger().warn({ channel: message.channel, error: String(error) }, 'live message handler failed');
        }
      }
    });
    client.on('error', (error) => this.#onLost(client, error));
    client.on('end', () => this.#onLost(client));
    try {
      for (const channel of this.#handlers.keys()) await listen(client, channel);
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
    if (this.#everConnected) for (const hook of this.#reconnectHooks) hook();
    this.#everConnected = true;
  }

  #onLost(client: pg.PoolClient, error?: Error): void {
    if (this.#client !== client) return;
    this.#client = undefined;
    client.release(error ?? true);
    if (this.#stopped) return;
    getLogger().warn({ error: error?.message }, 'live messages: lost the LISTEN connection; reconnecting');
    this.#scheduleReconnect();
  }

  #scheduleReconnect(): void {
    const delay = this.#retryDelayMs;
    this.#retryDelayMs = Math.min(this.#retryDelayMs * 2, 5000);
    setTimeout(() => {
      if (this.#stopped || this.#client || this.#handlers.size === 0) return;
      this.#ensure().catch(() => this.#scheduleReconnect());
    }, delay).unref();
  }
}

let listener: LiveListener | undefined;

/** The process's listener, created on first use. */
export function liveListener(): LiveListener {
  listener ??= new LiveListener();
  return listener;
}

/** Stitch's stop: close the connection (a later start makes a new listener). */
export async function stopLiveListener(): Promise<void> {
  const current = listener;
  listener = undefined;
  await current?.stop();
}

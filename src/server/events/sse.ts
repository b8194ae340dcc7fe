/**
 * A Server-Sent Events stream of the event log: history first (after `Last-Event-ID`, or `?after=`),
 * then live events from the hub. The stream subscribes before reading history, so an event that
 * commits in between arrives from one side or the other; ids already sent are dropped.
 *
 * Each message: `id: <event id>` and `data: <StitchEvent JSON>` (the default `message` event type,
 * so `EventSource.onmessage` sees everything). A comment line every 15 s keeps proxies from
 * closing an idle stream.
 *
 * A run's stream also carries its nodes' streamed output (`node:stream`, src/lib/live): `data:`
 * only, no `id` — it is not in the event log, so `Last-Event-ID` never points into it. It is
 * followed before history is read, so a client joining mid-stream gets the history, then what was
 * streamed so far, then the rest.
 */
import type { Context } from 'hono';
import { streamSSE, type SSEStreamingApi } from 'hono/streaming';
import type { StitchEvent, StreamMessage } from '@/types/stitch';
import { followStream } from '@/lib/live/stream-follow';
import { getLogger } from '@/lib/log';
import { latestEventId, readEventsAfter } from '@/lib/db/queries/events';
import { getEventHub, STRAGGLER_WINDOW } from './event-hub';
import { Wakeup } from './wakeup';
import { getPool } from '@/lib/db/pool';

const KEEPALIVE_MS = 15_000;
const HISTORY_PAGE = 1000;

/** Where to resume: the `Last-Event-ID` header (EventSource reconnects), else `?after=`, else 0. */
export function resumePoint(c: Context): number | undefined {
  const raw = c.req.header('last-event-id') ?? c.req.query('after');
  if (raw === undefined || raw === '') return undefined;
  const n = Number(raw);
  return Number.isSafeInteger(n) && n >= 0 ? n : undefined;
}

class SentIds {
  #ids = new Set<number>();
  #max = 0;
  #floor = 0;
  /** Ids up to `id` are never sent (they are before the stream's start). */
  below(id: number): void {
    this.#floor = id;
  }
  /** True the first time an id is offered. */
  add(id: number): boolean {
    if (id <= this.#floor || this.#ids.has(id)) return false;
    this.#ids.add(id);
    this.#max = Math.max(this.#max, id);
    // An all-runs stream lives long: forget ids far below anything a late commit could carry.
    if (this.#ids.size > 4 * STRAGGLER_WINDOW) {
      for (const old of this.#ids) if (old < this.#max - 2 * STRAGGLER_WINDOW) this.#ids.delete(old);
    }
    return true;
  }
}

/**
 * Stream one run's events (`runId`) or every run's (`null`). Without a resume point, a run
 * stream starts from the run's first event and the all-runs stream from now.
 */
export function streamEvents(c: Context, runId: string | null): Response {
  const resumeAfter = resumePoint(c);
  // Tell nginx-style proxies not to buffer the stream.
  c.header('X-Accel-Buffering', 'no');
  return streamSSE(c, async (stream) => {
    const sent = new SentIds();
    const queue: Array<StitchEvent | StreamMessage> = [];
    const wakeup = new Wakeup();
    const unsubscribe = await getEventHub().subscribe(runId, {
      onEvents: (events) => {
        queue.push(...events);
        wakeup.notify();
      },
      onClose: wakeup.close,
    });
    stream.onAbort(wakeup.close);
    let unfollow: (() => void) | undefined;
    try {
      if (runId !== null) {
        unfollow = await followStream(runId, (message) => {
          queue.push(message);
          wakeup.notify();
        });
      }
      // Nothing at or below the stream's start is sent: the client has it (a resume point), or it is
      // before an all-runs stream opened "from now". A run's NOTIFY can come a moment after its
      // events (notify-soon.ts), and the hub then delivers a window of that run's older events.
      sent.below(resumeAfter ?? (runId === null ? await latestEventId(getPool()) : 0));
      if (runId !== null || resumeAfter !== undefined) {
        let after = resumeAfter ?? 0;
        for (;;) {
          const page = await readEventsAfter(getPool(), runId, after, HISTORY_PAGE);
          await send(stream, page, sent);
          if (page.length < HISTORY_PAGE || wakeup.closed) break;
          after = page[page.length - 1].id;
        }
      }
      await stream.write(': connected\n\n');
      while (!wakeup.closed) {
        if (queue.length > 0) {
          await send(stream, queue.splice(0), sent);
          continue;
        }
        const woke = await wakeup.sleep(KEEPALIVE_MS);
        if (!woke && !wakeup.closed) await stream.write(': keep-alive\n\n');
      }
    } finally {
      unfollow?.();
      unsubscribe();
    }
  }, async (error) => {
    getLogger().warn({ error: error.message, runId }, 'event stream ended by an error');
  });
}

async function send(stream: SSEStreamingApi, events: Array<StitchEvent | StreamMessage>, sent: SentIds): Promise<void> {
  for (const event of events) {
    if (event.type === 'node:stream') {
      await stream.writeSSE({ data: JSON.stringify(event) });
      continue;
    }
    if (!sent.add(event.id)) continue;
    await stream.writeSSE({ id: String(event.id), data: JSON.stringify(event) });
  }
}

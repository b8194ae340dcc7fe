/**
 * Server-Sent Events over `fetch` rather than `EventSource`: it can send the API key header and
 * `Last-Event-ID` on reconnect. Messages that arrive in one network chunk are delivered together,
 * so a replay of history renders once instead of flickering through every old state.
 */
import type { StitchEvent, StreamMessage } from '@/types/stitch';
import { authHeader, waitForKey } from '../auth';

export interface EventStreamHandlers {
  onEvents(events: StitchEvent[]): void;
  /** Streamed output of the run's nodes (`node:stream`: not in the event log, no id). */
  onStream?(messages: StreamMessage[]): void;
  /** `open` once connected, `retrying` while reconnecting after a drop. */
  onConnection?(state: 'open' | 'retrying'): void;
}

export function parseSseBlock(block: string): { id?: string; event?: string; data?: string } | undefined {
  let data: string[] | undefined;
  let id: string | undefined;
  let event: string | undefined;
  for (const line of block.split(/\r?\n/)) {
    if (!line || line.startsWith(':')) continue;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'data') (data ??= []).push(value);
    else if (field === 'id') id = value;
    else if (field === 'event') event = value;
  }
  return data || id ? { id, event, data: data?.join('\n') } : undefined;
}

function toEvent(message: { id?: string; event?: string; data?: string }): StitchEvent | undefined {
  if (!message.data) return undefined;
  try {
    const parsed = JSON.parse(message.data) as Partial<StitchEvent>;
    if (!parsed || typeof parsed !== 'object' || typeof parsed.type !== 'string') return undefined;
    const id = typeof parsed.id === 'number' ? parsed.id : Number(message.id ?? 0);
    return { id, runId: parsed.runId ?? '', instanceId: parsed.instanceId ?? null, type: parsed.type, payload: parsed.payload ?? {}, createdAt: parsed.createdAt ?? new Date().toISOString() } as StitchEvent;
  } catch {
    return undefined;
  }
}

function toStream(message: { id?: string; data?: string }): StreamMessage | undefined {
  if (message.id !== undefined || !message.data) return undefined;
  try {
    const m = JSON.parse(message.data) as StreamMessage;
    return m?.type === 'node:stream' && typeof m.instanceId === 'string' && Number.isInteger(m.attempt) && Number.isInteger(m.seq) && Array.isArray(m.parts) ? m : undefined;
  } catch {
    return undefined;
  }
}


type SseMessage = NonNullable<ReturnType<typeof parseSseBlock>>;

/** Read a stream's messages until it ends; the messages of one network chunk come together. */
async function readMessages(body: NonNullable<Response['body']>, onMessages: (messages: SseMessage[]) => void): Promise<void> {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    const blocks = buffer.split(/\r?\n\r?\n/);
    buffer = blocks.pop() ?? '';
    const messages = blocks.map(parseSseBlock).filter((m): m is SseMessage => m !== undefined);
    if (messages.length) onMessages(messages);
  }
}

/**
 * Follow a stream of JSON snapshots that ends by itself (a bulk job's progress) until `finished`
 * says the last one arrived, or the returned function is called; a dropped stream is reopened.
 */
export function followSnapshots<T>(url: string, onSnapshot: (value: T) => void, finished: (value: T) => boolean): () => void {
  const controller = new AbortController();
  (async () => {
    let done = false;
    let delay = 500;
    while (!done && !controller.signal.aborted) {
      try {
        const res = await fetch(url, { headers: { Accept: 'text/event-stream', ...authHeader() }, signal: controller.signal, cache: 'no-store' });
        if (res.status === 401) await waitForKey(true);
        else if (res.ok && res.body) {
          await readMessages(res.body, (messages) => {
            for (const m of messages) {
              if (!m.data) continue;
              const value = JSON.parse(m.data) as T;
              onSnapshot(value);
              done ||= finished(value);
            }
          });
        }
      } catch {
        // Dropped: open it again below.
      }
      if (done || controller.signal.aborted) return;
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 5000);
    }
  })();
  return () => controller.abort();
}

/** Follow an SSE URL until the returned function is called; reconnects with `Last-Event-ID`. */
export function followEvents(url: string, handlers: EventStreamHandlers): () => void {
  const controller = new AbortController();
  let lastId: string | undefined;

  async function connectOnce(): Promise<void> {
    const headers: Record<string, string> = { Accept: 'text/event-stream', ...authHeader() };
    if (lastId) headers['Last-Event-ID'] = lastId;
    const res = await fetch(url, { headers, signal: controller.signal, cache: 'no-store' });
    if (res.status === 401) {
      await waitForKey(true);
      return;
    }
    if (!res.ok || !res.body) throw new Error(`event stream answered HTTP ${res.status}`);
    handlers.onConnection?.('open');
    await readMessages(res.body, (messages) => {
      const events: StitchEvent[] = [];
      const streamed: StreamMessage[] = [];
      for (const message of messages) {
        if (message.id) lastId = message.id;
        const stream = toStream(message);
        if (stream) {
          streamed.push(stream);
          continue;
        }
        const event = toEvent(message);
        if (event) events.push(event);
      }
      if (events.length) handlers.onEvents(events);
      if (streamed.length) handlers.onStream?.(streamed);
    });
  }

  (async () => {
    let delay = 500;
    while (!controller.signal.aborted) {
      try {
        await connectOnce();
        delay = 500;
      } catch {
        // Dropped or refused: reconnect below, resuming after the last event seen.
      }
      if (controller.signal.aborted) return;
      handlers.onConnection?.('retrying');
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 5000);
    }
  })();

  return () => controller.abort();
}

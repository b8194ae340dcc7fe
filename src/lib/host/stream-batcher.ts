/**
 * Streamed output, coalesced: a worker may call `streamOutput` a thousand times a second (one call
 * per token); what leaves the process is one batch every STREAM_INTERVAL_MS at most, one numbered
 * run of parts per stream (an attempt of a node), adjacent text merged. Every worker host that
 * streams uses it — the engine's (to NOTIFY), the HTTP host's and the remote runner's (to POST).
 *
 * Parts are numbered per stream from 0 so that a reader can put them in order, drop repeats and
 * notice gaps, whichever way they travelled. Text parts are cut at MAX_TEXT_PART UTF-16 units (at
 * most 6,000 bytes of JSON), so that any one part fits in one PostgreSQL NOTIFY payload.
 */
import type { StreamChunk } from '@/types/stitch';

/** How often a stream's chunks leave the process, at most (a lone chunk after a pause leaves at once). */
export const STREAM_INTERVAL_MS = 50;
/** Longest text part, in UTF-16 units: JSON-encoded, at most 6 bytes each. */
export const MAX_TEXT_PART = 1000;
/** Largest JSON object chunk, serialised. */
export const MAX_OBJECT_CHUNK_BYTES = 4096;

/** Which stream: one attempt of one node instance of one run. */
export interface StreamRef {
  runId: string;
  instanceId: string;
  attempt: number;
}

export const streamKey = (ref: StreamRef): string => JSON.stringify([ref.runId, ref.instanceId, ref.attempt]);

export function streamRefOf(key: string): StreamRef {
  const [runId, instanceId, attempt] = JSON.parse(key) as [string, string, number];
  return { runId, instanceId, attempt };
}

/** One stream's parts from `seq` on. */
export interface StreamParts {
  key: string;
  seq: number;
  parts: StreamChunk[];
}

/** The chunk, if it is text or a small plain JSON object; throws a TypeError that says what is wrong. */
export function checkChunk(chunk: unknown): StreamChunk {
  if (typeof chunk === 'string') return chunk;
  if (typeof chunk !== 'object' || chunk === null || Array.isArray(chunk)) {
    throw new TypeError(`streamOutput: a chunk is a string or a JSON object, not ${Array.isArray(chunk) ? 'an array' : typeof chunk}`);
  }
  let json: string | undefined;
  try {
    json = JSON.stringify(chunk);
  } catch {
    // circular, or a BigInt: said below
  }
  if (json === undefined) throw new TypeError('streamOutput: the chunk is not JSON-serialisable');
  if (Buffer.byteLength(json) > MAX_OBJECT_CHUNK_BYTES) {
    throw new TypeError(`streamOutput: a JSON chunk is at most ${MAX_OBJECT_CHUNK_BYTES} bytes serialised (this one is ${Buffer.byteLength(json)}); stream text, or store large results in the output`);
  }
  return JSON.parse(json) as StreamChunk;
}

/** Merge adjacent text chunks, then cut text longer than MAX_TEXT_PART (never inside a surrogate pair). */
export function toParts(chunks: StreamChunk[]): StreamChunk[] {
  const merged: StreamChunk[] = [];
  for (const chunk of chunks) {
    const last = merged[merged.length - 1];
    if (typeof chunk === 'string' && typeof last === 'string') merged[merged.length - 1] = last + chunk;
    else if (chunk !== '') merged.push(chunk);
  }
  const parts: StreamChunk[] = [];
  for (const part of merged) {
    if (typeof part !== 'string') {
      parts.push(part);
      continue;
    }
    for (let at = 0; at < part.length; ) {
      let end = Math.min(part.length, at + MAX_TEXT_PART);
      const code = part.charCodeAt(end - 1);
      if (end < part.length && code >= 0xd800 && code <= 0xdbff) end -= 1; // keep a surrogate pair whole
      parts.push(part.slice(at, end));
      at = end;
    }
  }
  return parts;
}

/** The size a chunk counts for against a stream's cap. */
export const chunkSize = (chunk: StreamChunk): number => (typeof chunk === 'string' ? chunk.length : JSON.stringify(chunk).length);

export interface StreamBatcherOptions {
  intervalMs?: number;
  /** A stream's total size (text units + JSON characters) past which its chunks are dropped. */
  maxChars?: number;
  /** Called once per stream when it reaches `maxChars`. */
  onCapped?: (key: string) => void;
  /** A failed send (its parts are gone: streamed output is ephemeral). */
  onSendError?: (error: unknown) => void;
}

interface Pending {
  chunks: StreamChunk[];
  next: number;
  chars: number;
  capped: boolean;
  touched: number;
}

/** A stream nobody wrote to for this long is forgotten (an async attempt that ended elsewhere). */
export const STREAM_IDLE_MS = 10 * 60_000;

export class StreamBatcher {
  #streams = new Map<string, Pending>();
  #timer: NodeJS.Timeout | undefined;
  #lastFlush = 0;
  #sending: Promise<void> = Promise.resolve();
  readonly #intervalMs: number;
  readonly #maxChars: number;

  constructor(
    private readonly send: (batch: StreamParts[]) => Promise<void>,
    private readonly options: StreamBatcherOptions = {},
  ) {
    this.#intervalMs = options.intervalMs ?? STREAM_INTERVAL_MS;
    this.#maxChars = options.maxChars ?? Number.POSITIVE_INFINITY;
  }

  /** Queue a checked chunk (`checkChunk`) for stream `key`. */
  push(key: string, chunk: StreamChunk): void {
    let stream = this.#streams.get(key);
    if (!stream) this.#streams.set(key, (stream = { chunks: [], next: 0, chars: 0, capped: false, touched: 0 }));
    stream.touched = Date.now();
    if (stream.capped) return;
    const size = chunkSize(chunk);
    if (stream.chars + size > this.#maxChars) {
      stream.capped = true;
      this.options.onCapped?.(key);
      return;
    }
    stream.chars += size;
    stream.chunks.push(chunk);
    this.#schedule();
  }

  /** True if `key` has chunks not sent yet. */
  hasPending(key: string): boolean {
    return (this.#streams.get(key)?.chunks.length ?? 0) > 0;
  }

  /** Send everything queued now; resolves once it (and every earlier batch) was sent. */
  flush(): Promise<void> {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#lastFlush = Date.now();
    const batch: StreamParts[] = [];
    for (const [key, stream] of this.#streams) {
      if (stream.chunks.length === 0) {
        if (this.#lastFlush - stream.touched > STREAM_IDLE_MS) this.#streams.delete(key);
        continue;
      }
      const parts = toParts(stream.chunks);
      stream.chunks = [];
      if (parts.length === 0) continue;
      batch.push({ key, seq: stream.next, parts });
      stream.next += parts.length;
    }
    if (batch.length > 0) {
      // One send at a time, in order: a stream's parts never overtake each other.
      this.#sending = this.#sending.then(() => this.send(batch)).catch((error) => this.options.onSendError?.(error));
    }
    return this.#sending;
  }

  /** Send what `key` has queued, then forget it (its attempt ended). */
  async end(key: string): Promise<void> {
    if (this.hasPending(key)) await this.flush();
    else await this.#sending;
    this.#streams.delete(key);
  }

  #schedule(): void {
    if (this.#timer) return;
    // The first chunk after a quiet spell leaves at once; then at most one batch per interval.
    const wait = Math.max(0, this.#lastFlush + this.#intervalMs - Date.now());
    this.#timer = setTimeout(() => void this.flush(), wait);
    this.#timer.unref?.();
  }
}

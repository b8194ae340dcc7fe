/**
 * The producing side of streamed output (`streamOutput`): chunks of the attempts this process
 * runs, and parts that outside code and remote workers POST here, leave as `NOTIFY stitch_stream`
 * — coalesced to one statement per STREAM_INTERVAL_MS for every stream of the process, never a
 * row (design §10: ephemeral is not durable; the node's final output is what is stored).
 *
 * The prefix lives here, with the producer: the one process sure to have seen every part. A
 * reader that subscribes mid-stream (any process) asks with `NOTIFY stitch_control
 * {"k":"replay","r":runId}`, and every producer holding parts of that run sends them again;
 * readers drop what they already have (parts are numbered). A stream is forgotten when its
 * attempt settles here, or after STREAM_IDLE_MS without a chunk; it holds at most
 * `STITCH_STREAM_MAX_CHARS` (past that its chunks are dropped, and the log says so once).
 */
import type { StreamChunk } from '@/types/stitch';
import { getPool } from '@/lib/db/pool';
import { notifyEach } from '@/lib/db/queries/notifications';
import { StreamBatcher, STREAM_IDLE_MS, chunkSize, streamKey, streamRefOf, type StreamParts, type StreamRef } from '@/lib/host/stream-batcher';
import { getLogger } from '@/lib/log';
import { runtimeConfig } from '@/lib/runtime';
import { fromWorker } from '@/lib/engine/worker-edge';
import { onControl } from './control';
import { STREAM_CHANNEL, encodeParts } from './stream-codec';

interface Held {
  ref: StreamRef;
  /** Parts by number (a relayed stream may arrive with holes, filled by other processes). */
  parts: StreamChunk[];
  chars: number;
  capped: boolean;
  touched: number;
}

class StreamRelay {
  readonly #maxChars = runtimeConfig().limits.streamChars;
  readonly #batcher = new StreamBatcher((batch) => this.#publish(batch), {
    maxChars: this.#maxChars,
    onCapped: (key) => this.#capped(key),
    onSendError: (error) => getLogger().warn({ error: String(error) }, 'streamed output could not be sent; it is dropped (the final output is unaffected)'),
  });
  readonly #held = new Map<string, Held>();
  #pruner: NodeJS.Timeout | undefined;
  readonly #offReplay = onControl('replay', (message) => {
    if (typeof message.r === 'string') void this.#replay(message.r);
  });

  close(): void {
    this.#offReplay();
    if (this.#pruner) clearInterval(this.#pruner);
    this.#held.clear();
  }

  /** A chunk of an attempt running in this process. */
  chunk(ref: StreamRef, chunk: StreamChunk): void {
    this.#batcher.push(streamKey(ref), chunk);
  }

  /** Parts numbered elsewhere (outside code, a remote worker): kept for replay and sent on. */
  async relay(ref: StreamRef, seq: number, parts: StreamChunk[]): Promise<void> {
    const kept = this.#keep(streamKey(ref), ref, seq, fromWorker(parts));
    if (kept.length > 0) await notifyEach(getPool(), STREAM_CHANNEL, encodeParts(ref, seq, kept));
  }

  /** The attempt settles: what is queued goes first (before the node's completion), then the stream is forgotten. */
  async settle(ref: StreamRef): Promise<void> {
    const key = streamKey(ref);
    if (!this.#batcher.hasPending(key) && !this.#held.has(key)) return;
    await this.#batcher.end(key);
    this.#held.delete(key);
  }

  async #publish(batch: StreamParts[]): Promise<void> {
    const payloads: string[] = [];
    for (const { key, seq, parts: raw } of batch) {
      const ref = streamRefOf(key);
      // Scrubbed once the batch's text is merged, so a value split over chunks is whole here.
      const parts = fromWorker(raw);
      this.#keep(key, ref, seq, parts);
      payloads.push(...encodeParts(ref, seq, parts));
    }
    await notifyEach(getPool(), STREAM_CHANNEL, payloads);
  }

  /** Remember parts for replay (within the cap); returns those kept. */
  #keep(key: string, ref: StreamRef, seq: number, parts: StreamChunk[]): StreamChunk[] {
    let held = this.#held.get(key);
    if (!held) this.#held.set(key, (held = { ref, parts: [], chars: 0, capped: false, touched: 0 }));
    held.touched = Date.now();
    const kept: StreamChunk[] = [];
    for (const [n, part] of parts.entries()) {
      if (held.parts[seq + n] !== undefined) {
        kept.push(part); // a repeat (a client retrying its POST): sent again, not counted again
        continue;
      }
      const size = chunkSize(part);
      if (held.chars + size > this.#maxChars) {
        if (!held.capped) this.#capped(key);
        held.capped = true;
        break;
      }
      held.chars += size;
      held.parts[seq + n] = part;
      kept.push(part);
    }
    this.#pruner ??= setInterval(() => this.#prune(), 60_000).unref();
    return kept;
  }

  async #replay(runId: string): Promise<void> {
    const payloads: string[] = [];
    for (const held of this.#held.values()) {
      if (held.ref.runId !== runId) continue;
      // Runs of consecutive parts (a relayed stream may have holes that other processes fill).
      for (let n = 0; n < held.parts.length; ) {
        if (held.parts[n] === undefined) {
          n += 1;
          continue;
        }
        let end = n;
        while (end < held.parts.length && held.parts[end] !== undefined) end += 1;
        payloads.push(...encodeParts(held.ref, n, held.parts.slice(n, end)));
        n = end;
      }
    }
    if (payloads.length === 0) return;
    await notifyEach(getPool(), STREAM_CHANNEL, payloads).catch((error) =>
      getLogger().warn({ runId, error: String(error) }, 'could not replay streamed output'),
    );
  }

  #capped(key: string): void {
    const { runId, instanceId, attempt } = streamRefOf(key);
    getLogger().warn({ runId, nodeId: instanceId, attempt, maxChars: this.#maxChars }, 'streamed output reached STITCH_STREAM_MAX_CHARS: further chunks of this attempt are dropped');
  }

  #prune(): void {
    const now = Date.now();
    for (const [key, held] of this.#held) if (now - held.touched > STREAM_IDLE_MS) this.#held.delete(key);
    if (this.#held.size === 0 && this.#pruner) {
      clearInterval(this.#pruner);
      this.#pruner = undefined;
    }
  }
}

let relay: StreamRelay | undefined;

/** The process's relay, made on first use (after `startStitch`, whose configuration it reads). */
export function streamRelay(): StreamRelay {
  relay ??= new StreamRelay();
  return relay;
}

/** Stitch's stop: forget every stream (a later start makes a new relay). */
export function resetStreamRelay(): void {
  relay?.close();
  relay = undefined;
}

/**
 * The reading side of streamed output: follow one run's streams (an SSE connection, `stitch run`).
 * Parts arrive over `NOTIFY stitch_stream` from whichever process produced them; a new follower
 * asks the producers to replay the run's streams, so it gets the prefix first and then the rest.
 * Each follower receives every part of every attempt once, in order: repeats (replays another
 * follower asked for) are dropped, and parts that arrive ahead of a hole wait for it — at most
 * GAP_MS, after which the hole is given up (its producer is gone; the final output will tell).
 */
import type { StreamChunk, StreamMessage } from '@/types/stitch';
import { liveListener } from './listener';
import { sendControlSoon } from './control';
import { streamKey } from '@/lib/host/stream-batcher';
import { STREAM_CHANNEL, decodeParts } from './stream-codec';

const GAP_MS = 1000;
/** Parts held ahead of a hole, per attempt, before the hole is given up at once. */
const MAX_AHEAD = 10_000;

interface Position {
  next: number;
  ahead: Map<number, StreamChunk[]>;
  aheadCount: number;
  gapTimer: NodeJS.Timeout | undefined;
}

class Follower {
  #positions = new Map<string, Position>();
  constructor(private readonly deliver: (message: StreamMessage) => void) {}

  accept(m: StreamMessage): void {
    const key = streamKey(m);
    let at = this.#positions.get(key);
    if (!at) this.#positions.set(key, (at = { next: 0, ahead: new Map(), aheadCount: 0, gapTimer: undefined }));
    const end = m.seq + m.parts.length;
    if (end <= at.next) return; // had it all
    if (m.seq > at.next) {
      if (!at.ahead.has(m.seq)) {
        at.ahead.set(m.seq, m.parts);
        at.aheadCount += m.parts.length;
      }
      if (at.aheadCount > MAX_AHEAD) this.#skipHole(m, at);
      else at.gapTimer ??= setTimeout(() => this.#skipHole(m, at), GAP_MS).unref();
      return;
    }
    this.#emit(m, at, m.seq, m.parts);
    this.#drain(m, at);
  }

  close(): void {
    for (const at of this.#positions.values()) if (at.gapTimer) clearTimeout(at.gapTimer);
  }

  #emit(ref: StreamMessage, at: Position, seq: number, parts: StreamChunk[]): void {
    const fresh = parts.slice(at.next - seq);
    at.next = seq + parts.length;
    if (fresh.length > 0) this.deliver({ type: 'node:stream', runId: ref.runId, instanceId: ref.instanceId, attempt: ref.attempt, seq: at.next - fresh.length, parts: fresh });
  }

  /** Deliver held parts that the hole's filling made contiguous. */
  #drain(ref: StreamMessage, at: Position): void {
    for (;;) {
      let moved = false;
      for (const [seq, parts] of at.ahead) {
        if (seq > at.next) continue;
        at.ahead.delete(seq);
        at.aheadCount -= parts.length;
        if (seq + parts.length > at.next) this.#emit(ref, at, seq, parts);
        moved = true;
      }
      if (!moved) break;
    }
    if (at.ahead.size === 0 && at.gapTimer) {
      clearTimeout(at.gapTimer);
      at.gapTimer = undefined;
    }
  }

  #skipHole(ref: StreamMessage, at: Position): void {
    at.gapTimer = undefined;
    if (at.ahead.size === 0) return;
    at.next = Math.min(...at.ahead.keys());
    this.#drain(ref, at);
  }
}

const followers = new Map<string, Set<Follower>>();
let listening: { listener: unknown; ready: Promise<void> } | undefined;

function onPayload(payload: string): void {
  const message = decodeParts(payload);
  if (!message) return;
  for (const f of followers.get(message.runId) ?? []) f.accept(message);
}

/** Listen on the current listener (once per listener: a restarted Stitch has a new one). */
function ensureListening(): Promise<void> {
  const listener = liveListener();
  if (listening?.listener === listener) return listening.ready;
  const ready = listener.on(STREAM_CHANNEL, onPayload).then(() => {
    // Parts sent while the connection was down are gone: ask for every followed run again.
    listener.onReconnect(() => {
      for (const runId of followers.keys()) sendControlSoon({ k: 'replay', r: runId });
    });
  });
  listening = { listener, ready };
  ready.catch(() => {
    if (listening?.ready === ready) listening = undefined;
  });
  return ready;
}

/**
 * Follow `runId`'s streamed output: `deliver` gets every attempt's parts from the first on, once
 * each, in order. Resolves once listening (and the replay is asked for); returns the unfollow.
 */
export async function followStream(runId: string, deliver: (message: StreamMessage) => void): Promise<() => void> {
  const follower = new Follower(deliver);
  let set = followers.get(runId);
  if (!set) followers.set(runId, (set = new Set()));
  set.add(follower);
  const unfollow = () => {
    follower.close();
    set.delete(follower);
    if (set.size === 0 && followers.get(runId) === set) followers.delete(runId);
  };
  try {
    await ensureListening();
  } catch (error) {
    unfollow();
    throw error;
  }
  sendControlSoon({ k: 'replay', r: runId });
  return unfollow;
}

/**
 * Streamed parts on the wire between processes: `NOTIFY stitch_stream` payloads (PostgreSQL allows
 * less than 8,000 bytes each) of `{r, i, a, s, p}` — run, instance, attempt, number of the first
 * part, parts.
 */
import type { StreamChunk, StreamMessage } from '@/types/stitch';
import type { StreamRef } from '@/lib/host/stream-batcher';

export const STREAM_CHANNEL = 'stitch_stream';
/** Under PostgreSQL's 8,000-byte NOTIFY payload limit, with room to spare. */
const PAYLOAD_BYTES = 7900;

/** Payloads carrying `parts` (numbered from `seq`), each under the NOTIFY limit; a part never splits. */
export function encodeParts(ref: StreamRef, seq: number, parts: StreamChunk[]): string[] {
  const head = (s: number, p: string[]) => `{"r":${JSON.stringify(ref.runId)},"i":${JSON.stringify(ref.instanceId)},"a":${ref.attempt},"s":${s},"p":[${p.join(',')}]}`;
  const payloads: string[] = [];
  let batch: string[] = [];
  let start = seq;
  let bytes = Buffer.byteLength(head(seq, []));
  parts.forEach((part, n) => {
    const json = JSON.stringify(part);
    const size = Buffer.byteLength(json) + 1;
    if (batch.length > 0 && bytes + size > PAYLOAD_BYTES) {
      payloads.push(head(start, batch));
      batch = [];
      start = seq + n;
      bytes = Buffer.byteLength(head(start, []));
    }
    batch.push(json);
    bytes += size;
  });
  if (batch.length > 0) payloads.push(head(start, batch));
  return payloads;
}

/** A payload as a StreamMessage, or undefined if it is not one. */
export function decodeParts(payload: string): StreamMessage | undefined {
  let m: { r?: unknown; i?: unknown; a?: unknown; s?: unknown; p?: unknown };
  try {
    m = JSON.parse(payload);
  } catch {
    return undefined;
  }
  if (typeof m.r !== 'string' || typeof m.i !== 'string' || !Number.isSafeInteger(m.a) || !Number.isSafeInteger(m.s) || !Array.isArray(m.p)) return undefined;
  return { type: 'node:stream', runId: m.r, instanceId: m.i, attempt: m.a as number, seq: m.s as number, parts: m.p as StreamChunk[] };
}

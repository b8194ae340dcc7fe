/**
 * The stream batcher every streaming host uses: chunks checked, coalesced per interval, text merged
 * and cut into parts that fit a NOTIFY payload, numbered per stream; the cap drops, never throws.
 */
import { describe, expect, it } from 'vitest';
import { MAX_TEXT_PART, StreamBatcher, checkChunk, toParts, type StreamParts } from '@/lib/host/stream-batcher';
import { decodeParts, encodeParts } from '@/lib/live/stream-codec';

describe('stream chunks and parts', () => {
  it('accepts text and small JSON objects, refuses the rest with the reason', () => {
    expect(checkChunk('hi')).toBe('hi');
    expect(checkChunk({ frame: 1 })).toEqual({ frame: 1 });
    expect(() => checkChunk([1])).toThrow(/not an array/);
    expect(() => checkChunk(42)).toThrow(/not number/);
    expect(() => checkChunk({ big: 'x'.repeat(5000) })).toThrow(/at most 4096 bytes/);
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    expect(() => checkChunk(circular)).toThrow(/not JSON-serialisable/);
  });

  it('merges adjacent text, keeps objects in place, cuts long text without splitting a surrogate pair', () => {
    expect(toParts(['a', 'b', { n: 1 }, 'c', '', 'd'])).toEqual(['ab', { n: 1 }, 'cd']);
    const long = 'x'.repeat(MAX_TEXT_PART - 1) + '😀' + 'y';
    const parts = toParts([long]) as string[];
    expect(parts.join('')).toBe(long);
    expect(parts[0]).toBe('x'.repeat(MAX_TEXT_PART - 1)); // the emoji moved whole to the next part
    expect(parts.every((p) => p.length <= MAX_TEXT_PART)).toBe(true);
  });

  it('encodes parts into NOTIFY payloads under 8,000 bytes, a part never split, numbers kept', () => {
    const parts = toParts(['é'.repeat(5000), { k: 'v' }]);
    const payloads = encodeParts({ runId: 'r', instanceId: 'n[1]', attempt: 2 }, 7, parts);
    expect(payloads.every((p) => Buffer.byteLength(p) < 8000)).toBe(true);
    const decoded = payloads.map((p) => decodeParts(p)!);
    expect(decoded.flatMap((m) => m.parts)).toEqual(parts);
    let next = 7;
    for (const m of decoded) {
      expect(m).toMatchObject({ runId: 'r', instanceId: 'n[1]', attempt: 2, seq: next });
      next += m.parts.length;
    }
    expect(decodeParts('{"r":1}')).toBeUndefined();
  });
});

describe('StreamBatcher', () => {
  it('sends a burst as one batch, numbers parts per stream, and drops past the cap once', async () => {
    const sent: StreamParts[][] = [];
    const capped: string[] = [];
    const batcher = new StreamBatcher(async (batch) => void sent.push(batch), { maxChars: 1000, onCapped: (k) => capped.push(k) });
    for (let i = 0; i < 100; i++) batcher.push('a', `${i} `);
    batcher.push('b', { x: 1 });
    await batcher.flush();
    expect(sent).toHaveLength(1);
    expect(sent[0]).toEqual([
      { key: 'a', seq: 0, parts: [Array.from({ length: 100 }, (_, i) => `${i} `).join('')] },
      { key: 'b', seq: 0, parts: [{ x: 1 }] },
    ]);
    batcher.push('a', 'more');
    batcher.push('a', 'y'.repeat(1000)); // over the cap: dropped
    batcher.push('a', 'z'); // dropped too: the stream is capped
    await batcher.end('a');
    expect(sent[1]).toEqual([{ key: 'a', seq: 1, parts: ['more'] }]);
    expect(capped).toEqual(['a']);
  });
});

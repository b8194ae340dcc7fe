/**
 * Scrubbing by value (scrub.ts): every value the process has held, rotated and deleted ones
 * included; in what is stored whatever its shape (depth, prototype-free objects, class instances,
 * toJSON) and in the common encodings (JSON escapes, URL encodings, base64 at any offset).
 */
import { describe, expect, it } from 'vitest';
import { SCRUBBED, scrubJson, scrubText } from '../scrub';
import { setVaultValues } from '../values';

let n = 0;
/** A fresh value (values are remembered for the life of the process). */
const fresh = (extra = '') => `sk-test-${++n}-${Math.random().toString(36).slice(2)}${extra}`;

describe('what is masked', () => {
  it('a value loaded once stays masked after it is rotated and after it is deleted', () => {
    const [old, rotated] = [fresh(), fresh()];
    setVaultValues(new Map([['A_API_KEY', old]]));
    setVaultValues(new Map([['A_API_KEY', rotated]]));
    expect(scrubText(`refused ${old}, now ${rotated}`)).toBe(`refused ${SCRUBBED}, now ${SCRUBBED}`);
    setVaultValues(new Map());
    expect(scrubText(`still ${old} and ${rotated}`)).toBe(`still ${SCRUBBED} and ${SCRUBBED}`);
  });

  it('values shorter than 8 characters are not masked', () => {
    setVaultValues(new Map([['SHORT_API_KEY', 'short']]));
    expect(scrubText('short stays')).toBe('short stays');
  });

  it('in every common encoding: JSON escapes, URL encodings, base64 (standard and URL-safe, at any offset)', () => {
    const value = fresh('/"q\\ +&é=?');
    setVaultValues(new Map([['ENC_API_KEY', value]]));
    const b64 = (s: string) => Buffer.from(s).toString('base64');
    const shapes = [
      value,
      JSON.stringify(value),
      JSON.stringify(JSON.stringify({ key: value })),
      encodeURIComponent(value),
      encodeURI(value),
      new URLSearchParams({ key: value }).toString(),
      `Basic ${b64(value)}`,
      `Basic ${b64(`user:${value}`)}`,
      `Basic ${b64(`us:${value}`)}`,
      b64(`x${value}tail`).replace(/\+/g, '-').replace(/\//g, '_'),
    ];
    for (const shape of shapes) {
      const out = scrubText(`before ${shape} after`);
      expect(out, shape).toContain(SCRUBBED);
      expect(out, shape).not.toContain(value);
      expect(out, shape).not.toContain(encodeURIComponent(value));
      expect(out, shape).not.toContain(b64(value).slice(0, 12));
    }
  });
});

describe('what is stored, whatever its shape', () => {
  it('nested deeper than 64 levels, prototype-free, class instances, toJSON, keys', () => {
    const value = fresh();
    setVaultValues(new Map([['SHAPE_API_KEY', value]]));
    let deep: unknown = { leaf: `x ${value} y` };
    for (let i = 0; i < 200; i++) deep = i % 2 ? { d: deep } : [deep];
    const bare = Object.assign(Object.create(null), { key: value });
    class Vendor {
      constructor(readonly key = value) {}
    }
    const withToJson = { toJSON: () => ({ quoted: `k=${value}` }) };
    const stored = scrubJson({ deep, bare, vendor: new Vendor(), withToJson, [value]: 1, __proto__x: value, url: `https://v.test/?k=${encodeURIComponent(value)}` });
    const text = JSON.stringify(stored);
    expect(text).not.toContain(value);
    expect(text).not.toContain(encodeURIComponent(value));
    expect(text.split(SCRUBBED).length - 1).toBe(7);
    expect(JSON.stringify(stored).length).toBeGreaterThan(1000); // the depth is kept, not cut
  });

  it('a "__proto__" key stays an ordinary key; non-JSON values are left to the store', () => {
    const value = fresh();
    setVaultValues(new Map([['PROTO_API_KEY', value]]));
    const stored = scrubJson(JSON.parse(`{"__proto__": {"k": "${value}"}, "other": "${value}"}`)) as Record<string, unknown>;
    expect(Object.getPrototypeOf(stored)).toBe(Object.prototype);
    expect(JSON.stringify(stored)).toBe(`{"__proto__":{"k":"${SCRUBBED}"},"other":"${SCRUBBED}"}`);
    const cyclic: Record<string, unknown> = { k: value };
    cyclic.self = cyclic;
    expect(scrubJson(cyclic)).toBe(cyclic);
  });

  it('returns the value itself when there is nothing to mask', () => {
    setVaultValues(new Map([['NONE_API_KEY', fresh()]]));
    const output = { a: [1, 'two', { three: 3 }] };
    expect(scrubJson(output)).toBe(output);
    expect(scrubJson(null)).toBe(null);
    expect(scrubJson(undefined)).toBe(undefined);
  });
});

/**
 * Scrubbing by value: every vault value this process has loaded since it started — rotated and
 * deleted ones included, since a worker may still hold an old value and quote it in an error — is
 * masked as `[redacted]`, in the encodings a value travels in: as is, JSON-string-escaped (once and
 * twice: JSON inside a string), URL-encoded (`encodeURIComponent`, `encodeURI`, form encoding) and
 * base64 (standard and URL-safe, at any byte offset of a longer encoded text).
 *
 * - `scrubText` masks a string (an error message, a log line).
 * - `scrubJson` masks what is stored: it looks in the value's serialized JSON, so depth, prototypes
 *   (`Object.create(null)`, class instances) and `toJSON` are whatever the store would see; only
 *   when a value is found is the JSON parsed back and every string (keys included) masked.
 *
 * With no value loaded both return their argument at once: a flow that uses no secrets pays nothing.
 * No imports: config.ts and log.ts read the vault without a cycle. docs/credentials.md
 */

/**
 * Values shorter than this are not scrubbed from text: masking every "test" or "1234" in every log
 * line would hide more than it protects, and a key that short protects nothing. docs/credentials.md
 */
export const MIN_SCRUBBED_LENGTH = 8;
export const SCRUBBED = '[redacted]';

/** Every value loaded since start; only grows (bounded by what the vault held). */
const remembered = new Set<string>();
/**
 * Every encoded form of every remembered value, and each of those as it appears inside serialized
 * JSON (a log line, JSON quoted in a message), longest first, so a form inside another is masked whole.
 */
let forms: string[] = [];
/** The forms as they appear inside serialized JSON (string-escaped): what `scrubJson` looks for. */
let formsInJson: string[] = [];

/** Remember values the vault holds now; forms are rebuilt only when one is new. */
export function rememberSecrets(values: Iterable<string>): void {
  let added = false;
  for (const value of values) {
    if (value.length >= MIN_SCRUBBED_LENGTH && !remembered.has(value)) {
      remembered.add(value);
      added = true;
    }
  }
  if (!added) return;
  const plain = new Set<string>();
  for (const value of remembered) for (const form of encodedForms(value)) plain.add(form);
  const longestFirst = (set: Set<string>) => [...set].sort((a, b) => b.length - a.length);
  formsInJson = longestFirst(new Set([...plain].map(jsonEscaped)));
  forms = longestFirst(new Set([...plain, ...formsInJson]));
}

/** `text` with every remembered value, in every form, replaced by `[redacted]`. */
export function scrubText(text: string): string {
  if (forms.length === 0) return text;
  let out = text;
  for (const form of forms) if (out.includes(form)) out = out.split(form).join(SCRUBBED);
  return out;
}

/**
 * `value` as it will be stored (JSON), with every remembered value masked in every string and key:
 * `value` itself when nothing is found, else a plain copy parsed from its JSON. A value JSON cannot
 * serialise (a cycle, a BigInt) is returned as is: the store refuses it as it always has.
 */
export function scrubJson<T>(value: T): T {
  if (forms.length === 0 || value === undefined || value === null) return value;
  if (typeof value === 'string') return scrubText(value) as T;
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch {
    return value;
  }
  if (text === undefined || !formsInJson.some((form) => text.includes(form))) return value;
  return scrubParsed(JSON.parse(text)) as T;
}

/** Mask every string and key of a value fresh from JSON.parse, in place, without recursion (any depth). */
function scrubParsed(root: unknown): unknown {
  if (typeof root === 'string') return scrubText(root);
  if (root === null || typeof root !== 'object') return root;
  const pending: object[] = [root];
  while (pending.length > 0) {
    const node = pending.pop() as Record<string, unknown>;
    for (const key of Object.keys(node)) {
      const child = node[key];
      const scrubbedKey = Array.isArray(node) ? key : scrubText(key);
      const scrubbed = typeof child === 'string' ? scrubText(child) : child;
      if (child !== null && typeof child === 'object') pending.push(child);
      if (scrubbedKey !== key) delete node[key];
      // defineProperty, not assignment: a "__proto__" key from JSON is an ordinary own property.
      if (scrubbedKey !== key || scrubbed !== child) {
        Object.defineProperty(node, scrubbedKey, { value: scrubbed, writable: true, enumerable: true, configurable: true });
      }
    }
  }
  return root;
}

const jsonEscaped = (text: string): string => JSON.stringify(text).slice(1, -1);

/** The forms `value` may be found in (each at least MIN_SCRUBBED_LENGTH long). */
function encodedForms(value: string): string[] {
  const out = new Set([value, jsonEscaped(value), jsonEscaped(jsonEscaped(value))]);
  try {
    out.add(encodeURIComponent(value));
    out.add(encodeURI(value));
    out.add(new URLSearchParams({ v: value }).toString().slice(2));
  } catch {
    // A lone surrogate has no URL encoding: nothing to look for.
  }
  for (const core of base64Cores(value)) {
    out.add(core);
    out.add(core.replace(/\+/g, '-').replace(/\//g, '_'));
  }
  return [...out].filter((form) => form.length >= MIN_SCRUBBED_LENGTH);
}

/**
 * The base64 characters that encode `value` alone, for each of the three byte offsets it may start
 * at inside a longer encoded text (e.g. `Basic base64(user:key)`): the characters made only of the
 * value's own bits. What the value shares with its neighbours (a character at each end) stays.
 */
function base64Cores(value: string): string[] {
  const bytes = Buffer.from(value, 'utf8');
  const cores: string[] = [];
  for (let offset = 0; offset < 3; offset++) {
    const encoded = Buffer.concat([Buffer.alloc(offset), bytes]).toString('base64');
    cores.push(encoded.slice(Math.ceil((offset * 8) / 6), Math.floor(((offset + bytes.length) * 8) / 6)));
  }
  return cores;
}

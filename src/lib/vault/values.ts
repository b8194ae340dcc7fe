/**
 * The decrypted vault values this process holds, and the scrubbing that keeps them out of every
 * log line, error, event and output. No imports: config.ts and log.ts read it without a cycle.
 * Filled by sync.ts (at start, and again on every change in any process).
 */

let values: ReadonlyMap<string, string> = new Map();
/** Longest first, so a value that contains another is masked whole. */
let scrubbable: string[] = [];

/**
 * Values shorter than this are not scrubbed from text: masking every "test" or "1234" in every log
 * line would hide more than it protects, and a key that short protects nothing. docs/credentials.md
 */
export const MIN_SCRUBBED_LENGTH = 8;
export const SCRUBBED = '[redacted]';

export function setVaultValues(next: ReadonlyMap<string, string>): void {
  values = next;
  scrubbable = [...new Set(next.values())].filter((v) => v.length >= MIN_SCRUBBED_LENGTH).sort((a, b) => b.length - a.length);
}

export function vaultValue(name: string): string | undefined {
  return values.get(name);
}

export function vaultNames(): string[] {
  return [...values.keys()];
}

/** `text` with every vault value replaced by `[redacted]`. */
export function scrubSecrets(text: string): string {
  if (scrubbable.length === 0) return text;
  let out = text;
  for (const value of scrubbable) if (out.includes(value)) out = out.split(value).join(SCRUBBED);
  return out;
}

/** A deep copy of a JSON-like value with vault values scrubbed from every string (itself when there is nothing to scrub). */
export function scrubSecretsDeep<T>(value: T, depth = 0): T {
  if (scrubbable.length === 0 || depth > 64) return value;
  if (typeof value === 'string') return scrubSecrets(value) as T;
  if (Array.isArray(value)) return value.map((v) => scrubSecretsDeep(v, depth + 1)) as T;
  if (value && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[scrubSecrets(k)] = scrubSecretsDeep(v, depth + 1);
    return out as T;
  }
  return value;
}

/**
 * The decrypted vault values this process holds. No imports but scrub.ts (which has none):
 * config.ts and log.ts read it without a cycle. Filled by sync.ts (at start, and again on every
 * change in any process); every value ever held is remembered for scrubbing (scrub.ts), so a
 * rotated or deleted value stays masked for as long as the process lives.
 */
import { rememberSecrets } from './scrub';

let values: ReadonlyMap<string, string> = new Map();

export function setVaultValues(next: ReadonlyMap<string, string>): void {
  values = next;
  rememberSecrets(next.values());
}

export function vaultValue(name: string): string | undefined {
  return values.get(name);
}

export function vaultNames(): string[] {
  return [...values.keys()];
}

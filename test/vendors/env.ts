/**
 * Process environment for integration tests. Workers read `getConfig()` (process.env) when they are
 * constructed and when they build callback or storage URLs, so tests set the vendor keys, base URLs
 * and the data dir here and reset the registry's worker instances.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { workerRegistry } from '@/lib/workers/registry';

export const VENDOR_KEYS = ['ANTHROPIC_API_KEY', 'MINIMAX_API_KEY', 'ELEVENLABS_API_KEY', 'SHOTSTACK_API_KEY'] as const;

/** Set variables (undefined deletes) and rebuild workers; returns a restore function. */
export function setEnv(vars: Record<string, string | undefined>): () => void {
  const previous = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  const apply = (values: Record<string, string | undefined>) => {
    for (const [k, v] of Object.entries(values)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    workerRegistry.resetInstances();
  };
  apply(vars);
  return () => apply(previous);
}

/** Every vendor key empty: all workers in mock mode (even when a .env file sets keys). */
export function mockEnv(): Record<string, string> {
  return Object.fromEntries(VENDOR_KEYS.map((k) => [k, '']));
}

export function tempDataDir(): string {
  return mkdtempSync(path.join(tmpdir(), 'stitch-int-'));
}

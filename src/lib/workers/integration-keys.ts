/**
 * Which API keys each registered worker reads, and where each one's value comes from now. Nothing
 * is hard-coded: the key names are the `*_API_KEY` names in the worker's own source file (found
 * through its registration in src/lib/workers/index.ts), so a worker written from the guide is
 * covered the moment it is registered. `stitch doctor`, the worker catalogue (the palette) and the
 * vault's `usedBy` all read this.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { secretSourceOf } from '@/lib/config';
import type { SecretSource } from '@/lib/vault/resolve';

export const API_KEY_NAME = /\b[A-Z][A-Z0-9_]*_API_KEY\b/g;

/** This checkout's src/lib/workers (where this module is). */
const OWN_WORKERS_DIR = path.dirname(fileURLToPath(import.meta.url));

let ownSources: Map<string, string> | undefined;

/** `type → source text` of each worker registered in `<dir>/index.ts` (import → file); this checkout's are read once. */
export function workerSources(workersDir = OWN_WORKERS_DIR): Map<string, string> {
  if (workersDir === OWN_WORKERS_DIR) return (ownSources ??= readWorkerSources(workersDir));
  return readWorkerSources(workersDir);
}

function readWorkerSources(workersDir: string): Map<string, string> {
  const index = path.join(workersDir, 'index.ts');
  const sources = new Map<string, string>();
  if (!existsSync(index)) return sources;
  const text = readFileSync(index, 'utf8');
  const moduleOf = new Map<string, string>();
  for (const m of text.matchAll(/^import\s*\{([^}]*)\}\s*from\s*'(\.\/[^']+)'/gm)) {
    for (const name of m[1].split(',')) moduleOf.set(name.trim().split(/\s+as\s+/).pop()!, m[2]);
  }
  for (const m of text.matchAll(/workerRegistry\.register\(\s*['"]([^'"]+)['"]\s*,\s*(\w+)\s*\)/g)) {
    const mod = moduleOf.get(m[2]);
    const file = mod && [`${mod}.ts`, `${mod}/index.ts`].map((f) => path.join(workersDir, f)).find((f) => existsSync(f));
    if (file) sources.set(m[1], readFileSync(file, 'utf8'));
  }
  return sources;
}

export interface IntegrationKey {
  name: string;
  source: SecretSource;
}

export interface IntegrationStatus {
  /** `real` when every key it reads has a value, `mock` when one is missing, `none` when it reads no key. */
  mode: 'real' | 'mock' | 'none';
  keys: IntegrationKey[];
}

/** Every registered worker's keys and mode. */
export function integrationStatuses(workersDir?: string): Map<string, IntegrationStatus> {
  const out = new Map<string, IntegrationStatus>();
  for (const [type, source] of workerSources(workersDir)) {
    const keys = [...new Set(source.match(API_KEY_NAME) ?? [])].map((name) => ({ name, source: secretSourceOf(name) }));
    out.set(type, { mode: keys.length === 0 ? 'none' : keys.some((k) => k.source === 'none') ? 'mock' : 'real', keys });
  }
  return out;
}

/** The worker types that read variable `name`. */
export function workersUsingKey(name: string, workersDir?: string): string[] {
  return [...workerSources(workersDir)].filter(([, source]) => (source.match(API_KEY_NAME) ?? ([] as string[])).includes(name)).map(([type]) => type).sort();
}

const keyNames = new Map<string, string[]>();

/**
 * Which credentials a worker type reads and where each value comes from now (environment, vault,
 * or none: mock mode) — names and sources only, never values: `ANTHROPIC_API_KEY@vault`, or
 * `none` for a worker that reads no key. Part of the step-cache key and of the re-run match, so a
 * mock result is never served to a real run. Names are read from the worker's source once; the
 * sources are looked up each time (a key may be set in the vault meanwhile).
 */
export function credentialIdentity(workerType: string | undefined): string {
  if (!workerType) return 'none';
  let names = keyNames.get(workerType);
  if (!names) {
    names = [...new Set(workerSources().get(workerType)?.match(API_KEY_NAME) ?? [])].sort();
    keyNames.set(workerType, names);
  }
  return names.map((name) => `${name}@${secretSourceOf(name)}`).join(',') || 'none';
}

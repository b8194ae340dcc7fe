/**
 * Keeps this process's copy of the vault (values.ts) current. getConfig() is synchronous and
 * workers call it in their constructors, so the decrypted values live in memory:
 *
 * - at start, every value is read and decrypted;
 * - a change anywhere NOTIFYs `stitch_vault` (a trigger, migration 0010): the listener reloads at once,
 *   and constructed worker instances are dropped so the next execution constructs them with the new
 *   configuration (mock mode ↔ real mode included);
 * - before each node execution `ensureVaultCurrent()` waits for a reload in flight and, while the
 *   listener is down (database restart), compares the stored version instead — a changed value
 *   applies to the next node execution, with or without the notification.
 */
import type pg from 'pg';
import { getPool } from '@/lib/db/pool';
import { listen as listenOn, unlisten } from '@/lib/db/queries/notifications';
import { readAllSealed, readVaultVersion, type SealedRow } from '@/lib/db/queries/credentials';
import { getLogger } from '@/lib/log';
import { workerRegistry } from '@/lib/workers/registry';
import { decryptSecret } from './cipher';
import type { VaultKey } from './key';
import { setVaultValues } from './values';

interface SyncState {
  key: Buffer;
  version: string | undefined;
  client: pg.PoolClient | undefined;
  reloading: Promise<void> | undefined;
  /** A notification arrived while a reload ran: reload once more after it. */
  again: boolean;
  stopped: boolean;
  retryDelayMs: number;
}

let state: SyncState | undefined;
let keyInfo: VaultKey = { key: undefined, source: 'none', reason: 'Stitch has not started' };

/** The key this process holds (routes refuse writes without one, saying why). */
export function currentVaultKey(): VaultKey {
  return keyInfo;
}

/** Load the vault and follow its changes; without a key, values stay empty and writes are refused. */
export async function startVaultSync(key: VaultKey): Promise<void> {
  keyInfo = key;
  if (!key.key) return;
  state = { key: key.key, version: undefined, client: undefined, reloading: undefined, again: false, stopped: false, retryDelayMs: 250 };
  await reload(state);
  await listen(state).catch(() => scheduleReconnect(state!));
}

export async function stopVaultSync(): Promise<void> {
  const s = state;
  state = undefined;
  keyInfo = { key: undefined, source: 'none', reason: 'Stitch has stopped' };
  setVaultValues(new Map());
  if (!s) return;
  s.stopped = true;
  await s.reloading?.catch(() => {});
  const client = s.client;
  s.client = undefined;
  if (client) {
    await unlisten(client, 'stitch_vault').catch(() => {});
    client.release();
  }
}

/** Called before each node execution: returns once this process holds the vault's latest values. */
export async function ensureVaultCurrent(): Promise<void> {
  const s = state;
  if (!s) return;
  if (s.reloading) return s.reloading;
  if (s.client) return;
  if ((await readVaultVersion(getPool())) !== s.version) await requestReload(s);
}

function requestReload(s: SyncState): Promise<void> {
  if (s.reloading) {
    s.again = true;
    return s.reloading;
  }
  s.reloading = (async () => {
    try {
      do {
        s.again = false;
        await reload(s);
      } while (s.again && !s.stopped);
    } finally {
      s.reloading = undefined;
    }
  })();
  return s.reloading;
}

async function reload(s: SyncState): Promise<void> {
  const { version, rows } = await readAllSealed(getPool());
  if (s.stopped) return;
  const { values, undecryptable } = decryptAll(s.key, rows);
  for (const name of undecryptable) {
    getLogger().warn({ credential: name }, 'vault: a credential does not decrypt with this key; it is ignored until it is set again');
  }
  const changed = s.version !== undefined && s.version !== version;
  s.version = version;
  setVaultValues(values);
  // Workers read their keys in their constructors: construct them anew for the next execution.
  if (changed) workerRegistry.resetInstances();
}

async function listen(s: SyncState): Promise<void> {
  const client = await getPool().connect();
  client.on('notification', () => void requestReload(s).catch((error) => getLogger().warn({ error: String(error) }, 'vault: reload failed')));
  client.on('error', (error) => lost(s, client, error));
  client.on('end', () => lost(s, client));
  try {
    await listenOn(client, 'stitch_vault');
  } catch (error) {
    client.release(true);
    throw error;
  }
  if (s.stopped) {
    client.release();
    return;
  }
  s.client = client;
  s.retryDelayMs = 250;
  // Changes made while nobody listened sent notifications nobody heard.
  await requestReload(s);
}

function lost(s: SyncState, client: pg.PoolClient, error?: Error): void {
  if (s.client !== client) return;
  s.client = undefined;
  client.release(error ?? true);
  if (s.stopped) return;
  getLogger().warn({ error: error?.message }, 'vault: lost the LISTEN connection; checking the version before each execution until it is back');
  scheduleReconnect(s);
}

function scheduleReconnect(s: SyncState): void {
  const delay = s.retryDelayMs;
  s.retryDelayMs = Math.min(s.retryDelayMs * 2, 5000);
  setTimeout(() => {
    if (s.stopped || s.client) return;
    listen(s).catch(() => scheduleReconnect(s));
  }, delay).unref();
}

/** Read and decrypt the vault once, without following changes (`stitch doctor`); returns how many values decrypted, and the names that did not. */
export async function loadVaultOnce(key: Buffer): Promise<{ loaded: number; undecryptable: string[] }> {
  const { values, undecryptable } = decryptAll(key, (await readAllSealed(getPool())).rows);
  setVaultValues(values);
  return { loaded: values.size, undecryptable };
}

/** Reload now and wait for it: the process that wrote a change uses it at once, before the notification arrives. */
export async function reloadVaultNow(): Promise<void> {
  if (state) await requestReload(state);
}

/** Decrypt every row; a row sealed with another key (STITCH_ENCRYPTION_KEY changed) or altered is left out and named. */
function decryptAll(key: Buffer, rows: SealedRow[]): { values: Map<string, string>; undecryptable: string[] } {
  const values = new Map<string, string>();
  const undecryptable: string[] = [];
  for (const row of rows) {
    try {
      values.set(row.name, decryptSecret(key, row.name, row));
    } catch {
      undecryptable.push(row.name);
    }
  }
  return { values, undecryptable };
}

/**
 * Where the vault key comes from: STITCH_ENCRYPTION_KEY, or — with the embedded database only — a
 * key file generated beside it (`<STITCH_DATA_DIR>/vault.key`, mode 0600). With DATABASE_URL and
 * no key there is no vault: the database may be shared or backed up elsewhere, and a key kept on
 * one machine's disk would be lost (or copied) with it. The key is never written to the database.
 */
import { chmodSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Config } from '@/lib/config';
import { generateKeyText, parseKey } from './cipher';

export type KeySource = 'env' | 'file' | 'none';

export interface VaultKey {
  key: Buffer | undefined;
  source: KeySource;
  /** Why there is no key, and what to do (source "none"). */
  reason?: string;
}

export const KEY_FILE_NAME = 'vault.key';

export function keyFilePath(config: Config): string {
  return path.join(config.dataDir, KEY_FILE_NAME);
}

/** The vault key; `create` generates the key file when it is missing (never for `doctor`). */
export function loadVaultKey(config: Config, options: { create: boolean } = { create: true }): VaultKey {
  if (config.encryptionKey) return { key: parseKey(config.encryptionKey), source: 'env' };
  if (config.databaseUrl) {
    return { key: undefined, source: 'none', reason: 'with DATABASE_URL the vault needs STITCH_ENCRYPTION_KEY (make one with `openssl rand -base64 32`)' };
  }
  const file = keyFilePath(config);
  try {
    const text = readFileSync(file, 'utf8');
    // A key file others can read is a key others have: tighten it rather than trust it silently.
    if ((statSync(file).mode & 0o077) !== 0) chmodSync(file, 0o600);
    return { key: parseKey(text), source: 'file' };
  } catch (error) {
    if ((error as { code?: string }).code !== 'ENOENT') throw new Error(`The vault key file ${file} is unreadable or invalid: ${(error as Error).message}`);
  }
  if (!options.create) return { key: undefined, source: 'none', reason: `no key file yet (${file}); stitch start creates it` };
  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  try {
    // 'wx': two processes starting at once must not each write a different key.
    writeFileSync(file, `${generateKeyText()}\n`, { mode: 0o600, flag: 'wx' });
  } catch (error) {
    if ((error as { code?: string }).code !== 'EEXIST') throw error;
  }
  return { key: parseKey(readFileSync(file, 'utf8')), source: 'file' };
}

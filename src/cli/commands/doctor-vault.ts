/**
 * `stitch doctor`'s vault row: is there a key (and from where), how many credentials it holds, and
 * whether each decrypts. It loads the vault's values into this process first, so the worker rows
 * that follow report keys from the vault as a running Stitch would see them.
 */
import type { Config } from '@/lib/config';
import { closeDatabase, getPool, isDatabaseOpen, openDatabase } from '@/lib/db/pool';
import { errorMessage } from '@/lib/errors';
import { getStitch } from '@/lib/stitch';
import { loadVaultKey } from '@/lib/vault/key';
import { listCredentialNames } from '@/lib/db/queries/credentials';
import { relationsPresent } from '@/lib/db/queries/tables-present';
import { currentVaultKey, loadVaultOnce } from '@/lib/vault/sync';
import type { DoctorRow } from './doctor-row';

export async function vaultDoctorRows(config: Config): Promise<DoctorRow[]> {
  // A started Stitch in this process already follows the vault.
  if (getStitch()) {
    const key = currentVaultKey();
    return [{ check: 'vault', subject: 'credentials', status: key.key ? 'ok' : 'warn', detail: key.key ? `key from ${key.source}` : `no key: ${key.reason}` }];
  }
  let key;
  try {
    key = loadVaultKey(config, { create: false });
  } catch (error) {
    return [{ check: 'vault', subject: 'credentials', status: 'fail', detail: errorMessage(error), fix: 'set STITCH_ENCRYPTION_KEY to the key the vault was written with' }];
  }
  const opened = !isDatabaseOpen();
  try {
    if (opened) await openDatabase({ config, max: 2 });
    const [migrated] = await relationsPresent(getPool(), ['stitch_credentials']);
    if (!migrated) return [{ check: 'vault', subject: 'credentials', status: 'warn', detail: 'not migrated yet', fix: 'npm run stitch -- migrate' }];
    if (!key.key) {
      // Without a key the vault is off: fine while it holds nothing, a problem once it holds values.
      const stored = (await listCredentialNames(getPool(), { limit: 20 })).credentials.map((c) => c.name);
      return stored.length
        ? [{ check: 'vault', subject: 'credentials', status: 'fail', detail: `${stored.join(', ')} stored, but no key to read them: ${key.reason}`, fix: 'set STITCH_ENCRYPTION_KEY to the key they were written with' }]
        : [{ check: 'vault', subject: 'credentials', status: 'ok', detail: `off, keys come from the environment only (${key.reason})` }];
    }
    const { loaded, undecryptable } = await loadVaultOnce(key.key);
    if (undecryptable.length) {
      return [
        {
          check: 'vault',
          subject: 'credentials',
          status: 'fail',
          detail: `${undecryptable.join(', ')} do not decrypt with the key from ${key.source} (written with another key)`,
          fix: 'use the key they were written with, or set them again: stitch credentials set NAME',
        },
      ];
    }
    return [{ check: 'vault', subject: 'credentials', status: 'ok', detail: `${loaded} credential(s); key from ${key.source === 'env' ? 'STITCH_ENCRYPTION_KEY' : 'the key file'}` }];
  } catch (error) {
    // The database row (below) says what is wrong with the database.
    return [{ check: 'vault', subject: 'credentials', status: 'warn', detail: `not read: ${errorMessage(error)}` }];
  } finally {
    if (opened) await closeDatabase();
  }
}

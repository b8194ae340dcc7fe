/**
 * The credentials vault's operations, as the HTTP API and the CLI offer them: set (create or
 * replace; at most STITCH_MAX_CREDENTIALS names), list (names, never values; paginated) and delete. Values are encrypted here, with the key this
 * process holds, before they reach the database.
 */
import { ConflictError, LimitReachedError, NotFoundError, ValidationError } from '@/lib/errors';
import { getPool, withTransaction } from '@/lib/db/pool';
import { lockCollection } from '@/lib/db/queries/advisory-locks';
import { countCredentials, deleteSealed, listCredentialNames, saveSealed } from '@/lib/db/queries/credentials';
import type { PageRequest } from '@/lib/db/queries/keyset-cursor';
import { runtimeConfig } from '@/lib/runtime';
import { workersUsingKey } from '@/lib/workers/integration-keys';
import { encryptSecret } from './cipher';
import { currentVaultKey, reloadVaultNow } from './sync';

export interface CredentialSummary {
  name: string;
  updatedAt: string;
  /** Worker types that read this variable (getConfig().workers.<camelCased name>). */
  usedBy: string[];
}

/** Names the vault accepts: environment-variable names, as workers read them (ANTHROPIC_API_KEY). */
export const CREDENTIAL_NAME = /^[A-Z][A-Z0-9_]{0,127}$/;

/** Values past this are not API keys; the limit keeps a mistaken paste of a file out. */
export const MAX_VALUE_BYTES = 16 * 1024;

export function checkCredentialName(name: string): void {
  if (!CREDENTIAL_NAME.test(name)) {
    throw new ValidationError('A credential name is the environment variable it stands for: capitals, digits and _ (e.g. ANTHROPIC_API_KEY).', [
      { code: 'invalid_name', field: 'name', message: 'must match ^[A-Z][A-Z0-9_]{0,127}$' },
    ]);
  }
}

export async function setCredential(name: string, value: string): Promise<{ created: boolean; credential: CredentialSummary }> {
  checkCredentialName(name);
  if (value.length === 0 || Buffer.byteLength(value) > MAX_VALUE_BYTES || value.trim() !== value) {
    throw new ValidationError('The value must be 1 to 16384 bytes, without leading or trailing white space.', [
      { code: 'invalid_value', field: 'value', message: 'empty, too long, or padded with white space' },
    ]);
  }
  const { key, reason } = currentVaultKey();
  if (!key) throw new ConflictError(`The vault has no key, so it cannot store secrets: ${reason}.`);
  const sealed = encryptSecret(key, name, value);
  const max = runtimeConfig().limits.credentials;
  const saved = await withTransaction(async (client) => {
    await lockCollection(client, 'credentials');
    const { count, exists } = await countCredentials(client, name);
    if (!exists && count >= max) throw new LimitReachedError(`The vault holds ${count} credentials`, max, 'STITCH_MAX_CREDENTIALS');
    return saveSealed(client, name, sealed);
  });
  await reloadVaultNow();
  return { created: saved.created, credential: { name, updatedAt: saved.updatedAt, usedBy: workersUsingKey(name) } };
}

/** One page of credentials, in name order: names and where they are used, never values. */
export async function listCredentials(page: PageRequest): Promise<{ credentials: CredentialSummary[]; nextCursor: string | null }> {
  const { credentials, nextCursor } = await listCredentialNames(getPool(), page);
  return { credentials: credentials.map((c) => ({ ...c, usedBy: workersUsingKey(c.name) })), nextCursor };
}

export async function deleteCredential(name: string): Promise<void> {
  checkCredentialName(name);
  if (!(await deleteSealed(getPool(), name))) throw new NotFoundError(`Credential ${name}`);
  await reloadVaultNow();
}

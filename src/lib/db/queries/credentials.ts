/**
 * The vault's table (`stitch_credentials`, migration 0010): sealed values by name. Only sealed
 * bytes cross this module; the key and the plaintexts stay with the callers (src/lib/vault).
 */
import type { Queryable } from './queryable';
import { decodeCursor, pageOf, type PageRequest } from './keyset-cursor';
import type { SealedSecret } from '@/lib/vault/cipher';

export interface CredentialEntry {
  name: string;
  updatedAt: string;
}

export interface SealedRow extends SealedSecret {
  name: string;
}

/** Store (or replace) a sealed value; true when the name is new. */
export async function saveSealed(db: Queryable, name: string, sealed: SealedSecret): Promise<{ created: boolean; updatedAt: string }> {
  const { rows } = await db.query<{ created: boolean; updated_at: Date }>(
    `INSERT INTO stitch_credentials (name, iv, ciphertext, auth_tag) VALUES ($1, $2, $3, $4)
     ON CONFLICT (name) DO UPDATE SET iv = EXCLUDED.iv, ciphertext = EXCLUDED.ciphertext, auth_tag = EXCLUDED.auth_tag, updated_at = now()
     RETURNING (xmax = 0) AS created, updated_at`,
    [name, sealed.iv, sealed.ciphertext, sealed.authTag],
  );
  return { created: rows[0].created, updatedAt: rows[0].updated_at.toISOString() };
}

/** How many credentials are stored, and whether `name` is one of them. */
export async function countCredentials(db: Queryable, name: string): Promise<{ count: number; exists: boolean }> {
  const { rows } = await db.query<{ count: number; exists: boolean }>(
    'SELECT count(*)::int AS count, coalesce(bool_or(name = $1), false) AS exists FROM stitch_credentials',
    [name],
  );
  return rows[0];
}

/** One page of credential names, in name order (keyset on the name: ./keyset-cursor.ts). */
export async function listCredentialNames(db: Queryable, page: PageRequest): Promise<{ credentials: CredentialEntry[]; nextCursor: string | null }> {
  const after = decodeCursor(page.cursor, [/^[A-Z][A-Z0-9_]{0,127}$/]);
  const { rows } = await db.query<{ name: string; updated_at: Date }>(
    'SELECT name, updated_at FROM stitch_credentials WHERE ($1::text IS NULL OR name > $1) ORDER BY name LIMIT $2',
    [after?.[0] ?? null, page.limit + 1],
  );
  const { rows: credentials, nextCursor } = pageOf(rows, page.limit, (r) => [r.name]);
  return { credentials: credentials.map((r) => ({ name: r.name, updatedAt: r.updated_at.toISOString() })), nextCursor };
}

/** True when there was a value to delete. */
export async function deleteSealed(db: Queryable, name: string): Promise<boolean> {
  const { rowCount } = await db.query('DELETE FROM stitch_credentials WHERE name = $1', [name]);
  return Boolean(rowCount);
}

export async function readAllSealed(db: Queryable): Promise<{ version: string; rows: SealedRow[] }> {
  // One statement: the version read is the one these rows belong to.
  const { rows } = await db.query<{ version: string; rows: { name: string; iv: string; ciphertext: string; auth_tag: string }[] | null }>(
    `SELECT (SELECT version::text FROM stitch_vault_version) AS version,
            (SELECT jsonb_agg(jsonb_build_object('name', name, 'iv', encode(iv, 'base64'), 'ciphertext', encode(ciphertext, 'base64'),
                    'auth_tag', encode(auth_tag, 'base64'))) FROM stitch_credentials) AS rows`,
  );
  const b = (s: string) => Buffer.from(s, 'base64');
  return {
    version: rows[0].version,
    rows: (rows[0].rows ?? []).map((r) => ({ name: r.name, iv: b(r.iv), ciphertext: b(r.ciphertext), authTag: b(r.auth_tag) })),
  };
}

export async function readVaultVersion(db: Queryable): Promise<string> {
  const { rows } = await db.query<{ version: string }>('SELECT version::text FROM stitch_vault_version');
  return rows[0].version;
}

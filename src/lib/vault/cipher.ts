/**
 * AES-256-GCM for vault values (node:crypto). Each value gets a fresh 96-bit IV; the credential's
 * name is the additional authenticated data, so a ciphertext moved to another name (or a value
 * encrypted under another key) fails to decrypt instead of yielding a wrong secret.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

export interface SealedSecret {
  iv: Buffer;
  ciphertext: Buffer;
  authTag: Buffer;
}

const ALGORITHM = 'aes-256-gcm';
const KEY_BYTES = 32;

/**
 * A 256-bit key from its text form: 64 hex digits or base64 / base64url of 32 bytes (what
 * `openssl rand -base64 32` prints). Anything else is refused with the way to make one.
 */
export function parseKey(text: string): Buffer {
  const trimmed = text.trim();
  const key = /^[0-9a-f]{64}$/i.test(trimmed) ? Buffer.from(trimmed, 'hex') : Buffer.from(trimmed, 'base64');
  if (key.length !== KEY_BYTES || (!/^[0-9a-f]{64}$/i.test(trimmed) && !/^[A-Za-z0-9+/_-]{43}=?$/.test(trimmed))) {
    throw new Error('STITCH_ENCRYPTION_KEY must be 32 bytes as base64 or 64 hex digits: make one with `openssl rand -base64 32`');
  }
  return key;
}

export function generateKeyText(): string {
  return randomBytes(KEY_BYTES).toString('base64');
}

export function encryptSecret(key: Buffer, name: string, plaintext: string): SealedSecret {
  const iv = randomBytes(12);
  const cipher = createCipheriv(ALGORITHM, key, iv);
  cipher.setAAD(Buffer.from(name, 'utf8'));
  const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return { iv, ciphertext, authTag: cipher.getAuthTag() };
}

/** The plaintext; throws when the key is not the one it was sealed with, or the row was altered. */
export function decryptSecret(key: Buffer, name: string, sealed: SealedSecret): string {
  const decipher = createDecipheriv(ALGORITHM, key, sealed.iv);
  decipher.setAAD(Buffer.from(name, 'utf8'));
  decipher.setAuthTag(sealed.authTag);
  return Buffer.concat([decipher.update(sealed.ciphertext), decipher.final()]).toString('utf8');
}

/**
 * The vault's crypto and key: AES-256-GCM round trip, fresh IVs, tampering and wrong keys refused,
 * ciphertexts bound to their name; the key from STITCH_ENCRYPTION_KEY, or a 0600 key file beside
 * the embedded database (never with DATABASE_URL).
 */
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { getConfig } from '@/lib/config';
import { decryptSecret, encryptSecret, generateKeyText, parseKey } from '../cipher';
import { keyFilePath, loadVaultKey } from '../key';

const key = parseKey(generateKeyText());

describe('AES-256-GCM', () => {
  it('round-trips, with a fresh IV each time and no plaintext in the ciphertext', () => {
    const a = encryptSecret(key, 'X_API_KEY', 'sk-live-0123456789');
    const b = encryptSecret(key, 'X_API_KEY', 'sk-live-0123456789');
    expect(decryptSecret(key, 'X_API_KEY', a)).toBe('sk-live-0123456789');
    expect(a.iv.equals(b.iv)).toBe(false);
    expect(a.ciphertext.equals(b.ciphertext)).toBe(false);
    expect(a.ciphertext.toString('utf8')).not.toContain('sk-live');
  });

  it('refuses another key, an altered ciphertext or tag, and a ciphertext moved to another name', () => {
    const sealed = encryptSecret(key, 'X_API_KEY', 'value-1234567');
    expect(() => decryptSecret(parseKey(generateKeyText()), 'X_API_KEY', sealed)).toThrow();
    const flipped = Buffer.from(sealed.ciphertext);
    flipped[0] ^= 1;
    expect(() => decryptSecret(key, 'X_API_KEY', { ...sealed, ciphertext: flipped })).toThrow();
    expect(() => decryptSecret(key, 'X_API_KEY', { ...sealed, authTag: Buffer.alloc(16) })).toThrow();
    expect(() => decryptSecret(key, 'Y_API_KEY', sealed)).toThrow();
  });

  it('accepts 32-byte keys as base64 or hex and refuses anything else with how to make one', () => {
    expect(parseKey('00'.repeat(32)).length).toBe(32);
    expect(parseKey(Buffer.alloc(32, 7).toString('base64')).length).toBe(32);
    for (const bad of ['short', '00'.repeat(31), Buffer.alloc(16).toString('base64'), 'x'.repeat(44)]) {
      expect(() => parseKey(bad)).toThrow(/openssl rand -base64 32/);
    }
  });
});

describe('the key', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it('comes from STITCH_ENCRYPTION_KEY when set', () => {
    const text = generateKeyText();
    const loaded = loadVaultKey(getConfig({ STITCH_ENCRYPTION_KEY: text, DATABASE_URL: 'postgres://x/y' }));
    expect(loaded.source).toBe('env');
    expect(loaded.key!.equals(parseKey(text))).toBe(true);
  });

  it('with the embedded database, is a key file generated once in STITCH_DATA_DIR with mode 0600', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'vault-key-'));
    dirs.push(dir);
    const config = getConfig({ STITCH_DATA_DIR: dir });
    expect(loadVaultKey(config, { create: false }).source).toBe('none'); // doctor never creates one
    const first = loadVaultKey(config);
    expect(first.source).toBe('file');
    expect(statSync(keyFilePath(config)).mode & 0o777).toBe(0o600);
    expect(loadVaultKey(config).key!.equals(first.key!)).toBe(true);
    expect(parseKey(readFileSync(keyFilePath(config), 'utf8')).equals(first.key!)).toBe(true);
  });

  it('with DATABASE_URL and no STITCH_ENCRYPTION_KEY, there is none (a file on one machine would not serve the others)', () => {
    const loaded = loadVaultKey(getConfig({ DATABASE_URL: 'postgres://x/y', STITCH_DATA_DIR: tmpdir() }));
    expect(loaded).toMatchObject({ key: undefined, source: 'none', reason: expect.stringContaining('STITCH_ENCRYPTION_KEY') });
  });
});

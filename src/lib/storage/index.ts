/**
 * Media storage: `put(key, bytes | stream, contentType) → url` and `get(key) → stream`.
 *
 * - `local` (default): files under `<dataDir>/files/<key>`, served by Stitch at `${baseUrl}/files/<key>`.
 * - `s3`: any S3-compatible bucket (AWS, R2, Supabase Storage, MinIO) via `@aws-sdk/client-s3`,
 *   multipart-streamed with `@aws-sdk/lib-storage`; the URL is the bucket's public URL.
 *
 * Bodies are streamed, never buffered whole: a 100 MB upload grows the process RSS by a few MB
 * (see docs/integrations.md, "Storage"). Keys are relative paths of safe segments (`audio/run/n.wav`).
 */
import type { Readable } from 'node:stream';
import { getConfig, type Config } from '@/lib/config';
import { makeLocalStorage } from './local';
import { checkKey, type PutOptions, type Storage, type StorageBody } from './types';

export { alreadyStored, checkKey, toReadable, type PutOptions, type Storage, type StorageBody } from './types';

/** Build the storage the configuration names (the S3 client is only loaded when configured). */
export async function makeStorage(config: Config = getConfig()): Promise<Storage> {
  if (config.storage.driver === 's3') {
    const { makeS3Storage } = await import('./s3');
    return makeS3Storage(config);
  }
  return makeLocalStorage(config);
}

let cached: { signature: string; storage: Promise<Storage> } | undefined;

/** The process's storage for the current configuration. */
export function getStorage(): Promise<Storage> {
  const config = getConfig();
  const signature = JSON.stringify([config.storage, config.dataDir, config.baseUrl]);
  if (!cached || cached.signature !== signature) cached = { signature, storage: makeStorage(config) };
  return cached.storage;
}

/** Store media and return its URL: `await put('audio/run-1/n.wav', stream, 'audio/wav')`. */
export async function put(key: string, body: StorageBody, contentType: string, options?: PutOptions): Promise<string> {
  return (await getStorage()).put(checkKey(key), body, contentType, options);
}

export async function get(key: string): Promise<Readable> {
  return (await getStorage()).get(checkKey(key));
}

export async function exists(key: string): Promise<boolean> {
  return (await getStorage()).exists(checkKey(key));
}

export async function remove(key: string): Promise<void> {
  return (await getStorage()).remove(checkKey(key));
}

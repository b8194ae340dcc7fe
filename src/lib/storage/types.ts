/**
 * The storage vocabulary shared by the backends: the interface, body type and key rules.
 */
import { Readable } from 'node:stream';
import { ConflictError, ValidationError } from '@/lib/errors';

export type StorageBody = Uint8Array | string | Readable | ReadableStream<Uint8Array>;

export interface PutOptions {
  /** Refuse (ConflictError) when the key exists: a stored object is never replaced. */
  ifAbsent?: boolean;
}

/** The refusal of a `put` with `ifAbsent` on a key that exists. */
export function alreadyStored(key: string): ConflictError {
  return new ConflictError(`A file is already stored under "${key}": stored files are never replaced.`);
}

export interface Storage {
  readonly driver: 'local' | 's3';
  /**
   * Store `body` under `key` and return the URL it is served at. What was there is replaced,
   * unless `ifAbsent`: then an existing key is refused (ConflictError) and left as it was.
   */
  put(key: string, body: StorageBody, contentType: string, options?: PutOptions): Promise<string>;
  /** The stored bytes as a stream; rejects with a NotFoundError when the key does not exist. */
  get(key: string): Promise<Readable>;
  /** Whether `key` exists. */
  exists(key: string): Promise<boolean>;
  /** The URL `key` is (or would be) served at. */
  url(key: string): string;
  /** Delete the file under `key`; a missing one is not an error (retention removes what it deleted the runs of). */
  remove(key: string): Promise<void>;
}

const SEGMENT = /^[A-Za-z0-9][A-Za-z0-9._=-]*$/;

/** Keys are `/`-separated segments of letters, digits, `._=-` — no `..`, no absolute paths. */
export function checkKey(key: string): string {
  const segments = typeof key === 'string' ? key.split('/') : [];
  if (!segments.length || key.length > 512 || !segments.every((s) => SEGMENT.test(s) && s !== '..' && s !== '.')) {
    throw new ValidationError(`Invalid storage key "${String(key)}": use / separated segments of letters, digits and ._=-`);
  }
  return key;
}

/** A storage body as a Node stream (strings and bytes are wrapped, web streams converted). */
export function toReadable(body: StorageBody): Readable {
  if (body instanceof Readable) return body;
  if (typeof body === 'string' || body instanceof Uint8Array) return Readable.from([typeof body === 'string' ? Buffer.from(body) : body]);
  return Readable.fromWeb(body as import('node:stream/web').ReadableStream<Uint8Array>);
}

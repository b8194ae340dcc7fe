/**
 * S3-compatible storage (AWS S3, Cloudflare R2, Supabase Storage, MinIO). Only this module imports
 * the AWS SDK, and only when `STITCH_STORAGE=s3`.
 *
 * Uploads are a multipart upload fed from ONE reused 5 MB buffer (S3's minimum part size): read a
 * part, send it, reuse the buffer. Measured on a 100 MB upload to s3rver: `@aws-sdk/lib-storage`'s
 * `Upload` (which `Buffer.concat`s a fresh buffer per part) grew RSS by 48–53 MB, all of it garbage
 * V8 collects only past its 64 MB external-memory threshold; the reused buffer keeps growth to a
 * few MB (docs/integrations.md, "Storage"). Bodies under 5 MB are one PutObject.
 */
import type { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import type { Config } from '@/lib/config';
import { NotFoundError } from '@/lib/errors';
import { alreadyStored, checkKey, toReadable, type PutOptions, type Storage, type StorageBody } from './types';

/** S3's minimum part size (every part but the last). */
const PART_SIZE = 5 * 1024 * 1024;

/** Yield the stream as consecutive full parts copied into one reused buffer (the last may be short). */
async function* partsOf(body: Readable): AsyncGenerator<Buffer> {
  const buffer = Buffer.allocUnsafe(PART_SIZE);
  let filled = 0;
  for await (const raw of body) {
    const chunk: Uint8Array = typeof raw === 'string' ? Buffer.from(raw) : raw;
    let offset = 0;
    while (offset < chunk.length) {
      const n = Math.min(PART_SIZE - filled, chunk.length - offset);
      buffer.set(chunk.subarray(offset, offset + n), filled);
      filled += n;
      offset += n;
      if (filled === PART_SIZE) {
        yield buffer;
        filled = 0;
      }
    }
  }
  if (filled > 0) yield buffer.subarray(0, filled);
}

export function makeS3Storage(config: Pick<Config, 'storage'>): Storage {
  const s3 = config.storage.s3;
  if (!s3.bucket) throw new Error('STITCH_STORAGE=s3 needs STITCH_S3_BUCKET (and usually STITCH_S3_ENDPOINT and credentials)');
  const bucket = s3.bucket;
  // Path-style addressing is what S3-compatible services expect; AWS itself takes either.
  const forcePathStyle = s3.forcePathStyle || Boolean(s3.endpoint);
  const client = new S3Client({
    region: s3.region,
    endpoint: s3.endpoint,
    forcePathStyle,
    credentials: s3.accessKeyId && s3.secretAccessKey ? { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey } : undefined,
  });
  const base =
    s3.publicUrl ??
    (s3.endpoint
      ? `${s3.endpoint.replace(/\/+$/, '')}/${bucket}`
      : forcePathStyle
        ? `https://s3.${s3.region}.amazonaws.com/${bucket}`
        : `https://${bucket}.s3.${s3.region}.amazonaws.com`);
  const url = (key: string) => `${base}/${checkKey(key).split('/').map(encodeURIComponent).join('/')}`;
  const isMissing = (error: unknown) => {
    const e = error as { name?: string; $metadata?: { httpStatusCode?: number } };
    return e.name === 'NoSuchKey' || e.name === 'NotFound' || e.$metadata?.httpStatusCode === 404;
  };

  return {
    driver: 's3',
    url,
    async put(key: string, body: StorageBody, contentType: string, options: PutOptions = {}): Promise<string> {
      const Key = checkKey(key);
      // S3 conditional writes: the bucket refuses (412) a key that exists.
      const IfNoneMatch = options.ifAbsent ? '*' : undefined;
      let uploadId: string | undefined;
      const parts: Array<{ ETag?: string; PartNumber: number }> = [];
      try {
        for await (const part of partsOf(toReadable(body))) {
          if (part.length < PART_SIZE && !uploadId) {
            // The whole body fits one part: a plain PutObject.
            await client.send(new PutObjectCommand({ Bucket: bucket, Key, Body: part, ContentType: contentType, IfNoneMatch }));
            return url(key);
          }
          uploadId ??= (await client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key, ContentType: contentType }))).UploadId;
          const PartNumber = parts.length + 1;
          const { ETag } = await client.send(new UploadPartCommand({ Bucket: bucket, Key, UploadId: uploadId, PartNumber, Body: part }));
          parts.push({ ETag, PartNumber });
        }
        if (!uploadId) {
          await client.send(new PutObjectCommand({ Bucket: bucket, Key, Body: Buffer.alloc(0), ContentType: contentType, IfNoneMatch }));
          return url(key);
        }
        await client.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key, UploadId: uploadId, MultipartUpload: { Parts: parts }, IfNoneMatch }));
        return url(key);
      } catch (error) {
        if (uploadId) await client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key, UploadId: uploadId })).catch(() => {});
        if (IfNoneMatch && (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 412) throw alreadyStored(key);
        throw error;
      }
    },
    async get(key: string): Promise<Readable> {
      try {
        const out = await client.send(new GetObjectCommand({ Bucket: bucket, Key: checkKey(key) }));
        return out.Body as Readable;
      } catch (error) {
        if (isMissing(error)) throw new NotFoundError(`Stored file ${key}`);
        throw error;
      }
    },
    async exists(key: string): Promise<boolean> {
      try {
        await client.send(new HeadObjectCommand({ Bucket: bucket, Key: checkKey(key) }));
        return true;
      } catch (error) {
        if (isMissing(error)) return false;
        throw error;
      }
    },
    async remove(key: string): Promise<void> {
      // S3 answers 204 for a key that is not there.
      await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: checkKey(key) }));
    },
  };
}

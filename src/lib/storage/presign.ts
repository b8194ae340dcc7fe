/**
 * Presigned uploads: a URL a remote worker PUTs a file to, so outputs that are files never travel
 * in a JSON body. `local` storage: a Stitch URL (`PUT /api/uploads/<key>?expires=…&signature=…`,
 * HMAC with the callback secret) that streams into storage. `s3`: an S3 SigV4 query-signed PUT
 * URL straight to the bucket (written out here: the signing is a few HMACs, and it keeps the AWS
 * presigner package out of the dependencies).
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { getConfig, type Config } from '@/lib/config';
import { signWithSecret } from '@/lib/host/callback-tokens';
import { checkKey } from './types';
import { getStorage } from './index';

export interface PresignedUpload {
  uploadUrl: string;
  method: 'PUT';
  /** Headers to send with the PUT. */
  headers: Record<string, string>;
  /** Where the file is served once uploaded (put this in the node's output). */
  url: string;
  key: string;
  expiresAt: string;
}

const encodeSegment = (s: string) => encodeURIComponent(s).replace(/[!'()*]/g, (ch) => `%${ch.charCodeAt(0).toString(16).toUpperCase()}`);
const localMessage = (key: string, expires: number, taskId: string) => `${key}\n${expires}\n${taskId}`;

/**
 * A presigned PUT of `key`, bound to the remote task (one attempt) it was granted to. Either way a
 * stored object is never replaced: local storage refuses a key that exists (409), and the S3 URL
 * signs `If-None-Match: *`, which the bucket enforces. A local URL also checks, before it reads
 * the body, that the task's attempt still holds its lease (409 once settled); an S3 URL cannot be
 * revoked, so it is good until it expires (docs/remote-workers.md).
 */
export async function presignUpload(key: string, contentType: string, ttlSeconds: number, taskId: string, config: Config = getConfig()): Promise<PresignedUpload> {
  checkKey(key);
  const storage = await getStorage();
  const expires = Math.floor(Date.now() / 1000) + Math.ceil(ttlSeconds);
  const common = { method: 'PUT' as const, url: storage.url(key), key, expiresAt: new Date(expires * 1000).toISOString() };
  if (storage.driver === 's3') {
    return { ...common, headers: { 'Content-Type': contentType, 'If-None-Match': '*' }, uploadUrl: await presignS3Put(config, key, ttlSeconds) };
  }
  const path = key.split('/').map(encodeSegment).join('/');
  const signature = signWithSecret('upload', localMessage(key, expires, taskId));
  return {
    ...common,
    headers: { 'Content-Type': contentType },
    uploadUrl: `${config.baseUrl}/api/uploads/${path}?task=${encodeURIComponent(taskId)}&expires=${expires}&signature=${signature}`,
  };
}

/** Whether a local upload URL's signature (over key, expiry and task) is genuine and unexpired. */
export function verifyLocalUpload(
  key: string,
  taskId: string | undefined,
  expires: string | undefined,
  signature: string | undefined,
): 'ok' | 'bad_signature' | 'expired' {
  if (!expires || !/^\d{1,12}$/.test(expires) || !signature || !taskId) return 'bad_signature';
  const expected = Buffer.from(signWithSecret('upload', localMessage(key, Number(expires), taskId)));
  const given = Buffer.from(signature);
  if (expected.length !== given.length || !timingSafeEqual(expected, given)) return 'bad_signature';
  return Number(expires) < Date.now() / 1000 ? 'expired' : 'ok';
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
const hmac = (key: Buffer | string, text: string) => createHmac('sha256', key).update(text).digest();

/** One PUT of `key` to the configured bucket, presigned (path-style for custom endpoints, as s3.ts). */
async function presignS3Put(config: Config, key: string, ttlSeconds: number): Promise<string> {
  const s3 = config.storage.s3;
  const credentials =
    s3.accessKeyId && s3.secretAccessKey ? { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey } : await defaultCredentials(s3.region);
  const pathStyle = s3.forcePathStyle || Boolean(s3.endpoint);
  const endpoint = new URL(s3.endpoint ?? (pathStyle ? `https://s3.${s3.region}.amazonaws.com` : `https://${s3.bucket}.s3.${s3.region}.amazonaws.com`));
  const basePath = endpoint.pathname.replace(/\/+$/, '');
  const path = `${basePath}${pathStyle ? `/${encodeSegment(s3.bucket!)}` : ''}/${key.split('/').map(encodeSegment).join('/')}`;
  return presignSigV4({
    method: 'PUT',
    origin: `${endpoint.protocol}//${endpoint.host}`,
    path,
    region: s3.region,
    credentials,
    expiresSeconds: ttlSeconds,
    headers: { 'if-none-match': '*' },
  });
}

/**
 * AWS Signature Version 4 in query-string form, for S3 (payload UNSIGNED-PAYLOAD; `host` and the
 * given `headers`, lower-case names, signed: the client must send them as they are). `path` is
 * already URI-encoded. Checked against AWS's documented example in
 * src/lib/storage/__tests__/presign.test.ts.
 */
export function presignSigV4(request: {
  method: 'GET' | 'PUT';
  origin: string;
  path: string;
  region: string;
  credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  expiresSeconds: number;
  headers?: Record<string, string>;
  now?: Date;
}): string {
  const { credentials, region } = request;
  const host = new URL(request.origin).host;
  // Canonical headers: sorted by name, `name:value` lines, then the names joined with `;`.
  const signed = Object.entries({ host, ...request.headers }).sort(([a], [b]) => (a < b ? -1 : 1));
  const amzDate = (request.now ?? new Date()).toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
  const date = amzDate.slice(0, 8);
  const scope = `${date}/${region}/s3/aws4_request`;
  const params: Record<string, string> = {
    'X-Amz-Algorithm': 'AWS4-HMAC-SHA256',
    'X-Amz-Credential': `${credentials.accessKeyId}/${scope}`,
    'X-Amz-Date': amzDate,
    'X-Amz-Expires': String(Math.min(604_800, Math.ceil(request.expiresSeconds))),
    'X-Amz-SignedHeaders': signed.map(([name]) => name).join(';'),
    ...(credentials.sessionToken ? { 'X-Amz-Security-Token': credentials.sessionToken } : {}),
  };
  const query = Object.keys(params)
    .sort()
    .map((k) => `${encodeSegment(k)}=${encodeSegment(params[k])}`)
    .join('&');
  const canonical = [
    request.method,
    request.path,
    query,
    ...signed.map(([name, value]) => `${name}:${value.trim()}`),
    '',
    signed.map(([name]) => name).join(';'),
    'UNSIGNED-PAYLOAD',
  ].join('\n');
  const toSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256(canonical)].join('\n');
  let signingKey = hmac(`AWS4${credentials.secretAccessKey}`, date);
  for (const part of [region, 's3', 'aws4_request']) signingKey = hmac(signingKey, part);
  const signature = createHmac('sha256', signingKey).update(toSign).digest('hex');
  return `${request.origin}${request.path}?${query}&X-Amz-Signature=${signature}`;
}

/** Credentials from the AWS default chain (environment, profile, instance role), as the S3 client finds them. */
async function defaultCredentials(region: string): Promise<{ accessKeyId: string; secretAccessKey: string; sessionToken?: string }> {
  const { S3Client } = await import('@aws-sdk/client-s3');
  const client = new S3Client({ region });
  try {
    return await client.config.credentials();
  } finally {
    client.destroy();
  }
}

/**
 * Presigned uploads: the SigV4 signer against AWS's documented example (so S3 and compatible
 * services accept the URL), and a presigned PUT into s3rver through the configured storage.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import S3rver from 's3rver';
import { afterAll, describe, expect, it } from 'vitest';
import { getConfig } from '@/lib/config';
import { setCallbackSecret } from '@/lib/host/callback-tokens';
import { makeStorage } from '../index';
import { presignSigV4, presignUpload, verifyLocalUpload } from '../presign';

const dir = mkdtempSync(path.join(tmpdir(), 'stitch-presign-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('presignSigV4', () => {
  it('reproduces the presigned URL of the AWS documentation (Signature Version 4, query parameters)', () => {
    // docs.aws.amazon.com/AmazonS3/latest/API/sigv4-query-string-auth.html — "An example": GET
    // /test.txt from examplebucket, 2013-05-24, 86400 s, the documentation's example keys.
    const url = presignSigV4({
      method: 'GET',
      origin: 'https://examplebucket.s3.amazonaws.com',
      path: '/test.txt',
      region: 'us-east-1',
      credentials: { accessKeyId: 'AKIAIOSFODNN7EXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY' },
      expiresSeconds: 86_400,
      now: new Date('2013-05-24T00:00:00Z'),
    });
    expect(url).toBe(
      'https://examplebucket.s3.amazonaws.com/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256' +
        '&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z' +
        '&X-Amz-Expires=86400&X-Amz-SignedHeaders=host' +
        '&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404',
    );
  });
});

describe('presignUpload', () => {
  it('local storage: a signed Stitch URL that expires and names its key and task', async () => {
    setCallbackSecret('presign-test-secret');
    const config = getConfig({ STITCH_DATA_DIR: path.join(dir, 'local'), STITCH_BASE_URL: 'http://127.0.0.1:9' });
    const task = '00000000-0000-4000-8000-000000000001';
    const grant = await presignUpload('remote/r/n/a1-x-out.png', 'image/png', 60, task, config);
    const url = new URL(grant.uploadUrl);
    expect(url.pathname).toBe('/api/uploads/remote/r/n/a1-x-out.png');
    expect(url.searchParams.get('task')).toBe(task);
    const expires = url.searchParams.get('expires')!;
    const signature = url.searchParams.get('signature')!;
    expect(verifyLocalUpload('remote/r/n/a1-x-out.png', task, expires, signature)).toBe('ok');
    expect(verifyLocalUpload('remote/r/n/other.png', task, expires, signature)).toBe('bad_signature');
    expect(verifyLocalUpload('remote/r/n/a1-x-out.png', task, String(Number(expires) + 1), signature)).toBe('bad_signature');
    // Bound to its task: the same key and expiry under another task's id is not this URL.
    expect(verifyLocalUpload('remote/r/n/a1-x-out.png', '00000000-0000-4000-8000-000000000002', expires, signature)).toBe('bad_signature');
    expect(verifyLocalUpload('remote/r/n/a1-x-out.png', undefined, expires, signature)).toBe('bad_signature');
    expect(grant).toMatchObject({ method: 'PUT', headers: { 'Content-Type': 'image/png' }, key: 'remote/r/n/a1-x-out.png' });
  });

  it('S3: the presigned URL takes a PUT straight into the bucket', async () => {
    const s3 = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory: path.join(dir, 's3'), configureBuckets: [{ name: 'media', configs: [] }] });
    const { port } = (await s3.run()) as AddressInfo;
    try {
      const env = {
        STITCH_STORAGE: 's3',
        STITCH_S3_BUCKET: 'media',
        STITCH_S3_ENDPOINT: `http://127.0.0.1:${port}`,
        STITCH_S3_ACCESS_KEY_ID: 'S3RVER',
        STITCH_S3_SECRET_ACCESS_KEY: 'S3RVER',
      };
      const previous = { ...process.env };
      Object.assign(process.env, env); // presignUpload reads the process's storage, like put()
      try {
        const grant = await presignUpload('remote/run/node/a1-clip.bin', 'application/octet-stream', 600, 'task-1', getConfig(env));
        // The bucket refuses to replace the object: If-None-Match is signed, and the client sends it.
        expect(grant.headers['If-None-Match']).toBe('*');
        expect(new URL(grant.uploadUrl).searchParams.get('X-Amz-SignedHeaders')).toBe('host;if-none-match');
        expect(grant.uploadUrl.startsWith(`http://127.0.0.1:${port}/media/remote/run/node/a1-clip.bin?X-Amz-Algorithm=AWS4-HMAC-SHA256`)).toBe(true);
        const put = await fetch(grant.uploadUrl, { method: 'PUT', headers: grant.headers, body: Buffer.alloc(3000, 7) });
        expect(put.status).toBe(200);
        const storage = await makeStorage(getConfig(env));
        const chunks: Buffer[] = [];
        for await (const chunk of await storage.get('remote/run/node/a1-clip.bin')) chunks.push(chunk as Buffer);
        expect(Buffer.concat(chunks).equals(Buffer.alloc(3000, 7))).toBe(true);
        expect(grant.url).toBe(`http://127.0.0.1:${port}/media/remote/run/node/a1-clip.bin`);
      } finally {
        for (const k of Object.keys(env)) if (!(k in previous)) delete process.env[k];
      }
    } finally {
      await s3.close();
    }
  });
});

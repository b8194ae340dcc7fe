/**
 * Storage backends: the shared contract for local files and for S3 (against s3rver on loopback),
 * and the streaming bound: a 100 MB upload, measured in a child process, grows RSS by < 50 MB.
 */
import { execFile } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import S3rver from 's3rver';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getConfig } from '@/lib/config';
import { makeStorage } from '../index';
import { runStorageContract } from './storage-contract';

const dir = mkdtempSync(path.join(tmpdir(), 'stitch-storage-'));
let s3: S3rver;
let s3Url = '';
let files: Server;
let filesUrl = '';

/** Serves `<dataDir>/files/<key>` at `/files/<key>` the way the HTTP server does. */
function serveFiles(dataDir: string): Promise<Server> {
  const server = createServer((req, res) => {
    const key = decodeURIComponent((req.url ?? '').replace(/^\/files\//, ''));
    const stream = createReadStream(path.join(dataDir, 'files', key));
    stream.on('error', () => res.writeHead(404).end());
    stream.on('open', () => res.writeHead(200));
    stream.pipe(res);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

const s3Env = () => ({
  STITCH_STORAGE: 's3',
  STITCH_S3_BUCKET: 'media',
  STITCH_S3_ENDPOINT: s3Url,
  STITCH_S3_ACCESS_KEY_ID: 'S3RVER',
  STITCH_S3_SECRET_ACCESS_KEY: 'S3RVER',
});

beforeAll(async () => {
  s3 = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory: path.join(dir, 's3'), configureBuckets: [{ name: 'media', configs: [] }] });
  const { port } = (await s3.run()) as AddressInfo;
  s3Url = `http://127.0.0.1:${port}`;
  files = await serveFiles(path.join(dir, 'local'));
  filesUrl = `http://127.0.0.1:${(files.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await s3?.close();
  files?.close();
  rmSync(dir, { recursive: true, force: true });
});

runStorageContract({
  name: 'local filesystem',
  make: () => makeStorage(getConfig({ STITCH_DATA_DIR: path.join(dir, 'local'), STITCH_BASE_URL: filesUrl })),
  fetchUrl: (url) => fetch(url),
});

runStorageContract({
  name: 'S3 (s3rver)',
  make: () => makeStorage(getConfig(s3Env())),
  fetchUrl: (url) => fetch(url),
});

describe('urls', () => {
  it('local URLs live under the base URL at /files, S3 URLs under the bucket (or STITCH_S3_PUBLIC_URL)', async () => {
    const local = await makeStorage(getConfig({ STITCH_BASE_URL: 'https://stitch.example.com/', STITCH_DATA_DIR: dir }));
    expect(local.url('audio/run 1/a.wav'.replace(' ', '-'))).toBe('https://stitch.example.com/files/audio/run-1/a.wav');
    const r2 = await makeStorage(getConfig({ ...s3Env(), STITCH_S3_PUBLIC_URL: 'https://media.example.com/' }));
    expect(r2.url('v/x.mp4')).toBe('https://media.example.com/v/x.mp4');
    const aws = await makeStorage(getConfig({ STITCH_STORAGE: 's3', STITCH_S3_BUCKET: 'b', STITCH_S3_REGION: 'eu-west-1' }));
    expect(aws.url('v/x.mp4')).toBe('https://b.s3.eu-west-1.amazonaws.com/v/x.mp4');
  });
});

describe('streaming a 100 MB upload', () => {
  const measure = async (env: Record<string, string>) => {
    const script = path.join(path.dirname(new URL(import.meta.url).pathname), 'rss-upload.ts');
    const { stdout } = await promisify(execFile)('npx', ['tsx', script], {
      env: { ...process.env, ...env, UPLOAD_MB: '100' },
      maxBuffer: 1024 * 1024,
    });
    return JSON.parse(stdout.trim().split('\n').pop()!) as { bytes: number; rssGrowthMb: number; baselineMb: number; peakMb: number };
  };

  it('local: RSS grows by less than 50 MB', async () => {
    const r = await measure({ STITCH_DATA_DIR: path.join(dir, 'big-local'), STITCH_BASE_URL: filesUrl });
    console.log(`[storage] local 100 MB upload: RSS ${r.baselineMb} → peak ${r.peakMb} MB (growth ${r.rssGrowthMb} MB)`);
    expect(r.bytes).toBe(100 * 1024 * 1024);
    expect(r.rssGrowthMb).toBeLessThan(50);
  });

  it('S3 multipart: RSS grows by less than 50 MB', async () => {
    const r = await measure(s3Env());
    console.log(`[storage] S3 100 MB upload: RSS ${r.baselineMb} → peak ${r.peakMb} MB (growth ${r.rssGrowthMb} MB)`);
    expect(r.bytes).toBe(100 * 1024 * 1024);
    expect(r.rssGrowthMb).toBeLessThan(50);
  });
});

describe('put with ifAbsent (a stored object is never replaced)', () => {
  it('local: refuses a key that exists and keeps its bytes; of two racing writers exactly one stores', async () => {
    const storage = await makeStorage(getConfig({ STITCH_DATA_DIR: path.join(dir, 'local'), STITCH_BASE_URL: filesUrl }));
    await storage.put('once/first.txt', 'first', 'text/plain', { ifAbsent: true });
    await expect(storage.put('once/first.txt', 'second', 'text/plain', { ifAbsent: true })).rejects.toMatchObject({ code: 'conflict' });
    const chunks: Buffer[] = [];
    for await (const chunk of await storage.get('once/first.txt')) chunks.push(chunk as Buffer);
    expect(Buffer.concat(chunks).toString()).toBe('first');

    const racing = await Promise.allSettled(['a', 'b', 'c'].map((v) => storage.put('once/race.txt', v.repeat(100_000), 'text/plain', { ifAbsent: true })));
    expect(racing.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    // No temporary file is left beside it.
    expect(readdirSync(path.join(dir, 'local', 'files', 'once')).sort()).toEqual(['first.txt', 'race.txt']);
  });
});

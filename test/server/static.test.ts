/**
 * Files served without an API key, over real HTTP: media under `<dataDir>/files` (content type,
 * byte ranges for seeking, no path traversal, no script on our origin) and the canvas build
 * (static files, single-page-app fallback, a helpful page when it is not built).
 */
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getConfig } from '@/lib/config';
import { startServer, type RunningServer } from '@/server/listen';
import { CANVAS_CSP } from '@/server/routes/static';
import { parseRange } from '@/server/send-file';

let root: string;
let server: RunningServer;
let bare: RunningServer;
const video = Buffer.from(Array.from({ length: 1000 }, (_, i) => i % 256));

beforeAll(async () => {
  root = mkdtempSync(path.join(tmpdir(), 'stitch-static-'));
  const files = path.join(root, 'data', 'files');
  mkdirSync(path.join(files, 'runs', 'r1'), { recursive: true });
  writeFileSync(path.join(files, 'runs', 'r1', 'clip.mp4'), video);
  writeFileSync(path.join(files, 'voice over.mp3'), 'mp3');
  writeFileSync(path.join(files, 'page.html'), '<script>alert(1)</script>');
  writeFileSync(path.join(files, 'app.js'), 'alert(1)');
  writeFileSync(path.join(files, 'report.pdf'), '%PDF-1.4');
  writeFileSync(path.join(files, 'data.json'), '{}');
  writeFileSync(path.join(files, 'résumé "final".txt'), 'text');
  writeFileSync(path.join(files, 'still.png'), 'png');
  writeFileSync(path.join(files, 'logo.svg'), '<svg xmlns="http://www.w3.org/2000/svg"/>');
  writeFileSync(path.join(root, 'data', 'secret.txt'), 'outside');
  symlinkSync(path.join(root, 'data', 'secret.txt'), path.join(files, 'link.txt'));
  const web = path.join(root, 'web');
  mkdirSync(path.join(web, 'assets'), { recursive: true });
  writeFileSync(path.join(web, 'index.html'), '<!doctype html><title>canvas</title>');
  writeFileSync(path.join(web, 'assets', 'app-1234.js'), 'console.log(1)');
  const config = getConfig({ STITCH_DATA_DIR: path.join(root, 'data'), PORT: '0', STITCH_LOG_LEVEL: 'warn' });
  server = await startServer(config, { webDir: web });
  bare = await startServer(config, { webDir: path.join(root, 'no-build') });
});
afterAll(async () => {
  await server?.close();
  await bare?.close();
  rmSync(root, { recursive: true, force: true });
});

const get = (p: string, headers: Record<string, string> = {}, base = server) => fetch(base.url + p, { headers });

describe('/files', () => {
  it('serves a file whole, with its content type and range support', async () => {
    const res = await get('/files/runs/r1/clip.mp4');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('video/mp4');
    expect(res.headers.get('accept-ranges')).toBe('bytes');
    expect(res.headers.get('content-length')).toBe('1000');
    // Embeddable from any origin (the canvas may be opened as 127.0.0.1 while URLs say localhost),
    // never able to run script when opened directly.
    expect(res.headers.get('cross-origin-resource-policy')).toBe('cross-origin');
    expect(res.headers.get('content-security-policy')).toContain('sandbox');
    expect(Buffer.from(await res.arrayBuffer())).toEqual(video);
    const mp3 = await get('/files/voice%20over.mp3');
    expect(mp3.headers.get('content-type')).toBe('audio/mpeg');
  });

  it('answers byte ranges with 206 (so <video> can seek), and 416 when unsatisfiable', async () => {
    const mid = await get('/files/runs/r1/clip.mp4', { range: 'bytes=100-199' });
    expect(mid.status).toBe(206);
    expect(mid.headers.get('content-range')).toBe('bytes 100-199/1000');
    expect(Buffer.from(await mid.arrayBuffer())).toEqual(video.subarray(100, 200));
    const open = await get('/files/runs/r1/clip.mp4', { range: 'bytes=900-' });
    expect(Buffer.from(await open.arrayBuffer())).toEqual(video.subarray(900));
    const suffix = await get('/files/runs/r1/clip.mp4', { range: 'bytes=-10' });
    expect(suffix.headers.get('content-range')).toBe('bytes 990-999/1000');
    const beyond = await get('/files/runs/r1/clip.mp4', { range: 'bytes=5000-' });
    expect(beyond.status).toBe(416);
    expect(beyond.headers.get('content-range')).toBe('bytes */1000');
    const head = await fetch(`${server.url}/files/runs/r1/clip.mp4`, { method: 'HEAD' });
    expect(head.headers.get('content-length')).toBe('1000');
  });

  it('never leaves the files directory', async () => {
    for (const p of [
      '/files/../secret.txt',
      '/files/%2e%2e/secret.txt',
      '/files/..%2fsecret.txt',
      '/files/runs/..%2F..%2Fsecret.txt',
      '/files/%2e%2e%5csecret.txt',
      '/files/link.txt',
      '/files/runs%00/r1',
      '/files/',
      '/files/runs',
      '/files/nope.mp4',
    ]) {
      const res = await get(p);
      expect(res.status, p).toBe(404);
      expect(await res.text()).not.toContain('outside');
    }
  });

  it('user media cannot run script on this origin', async () => {
    const res = await get('/files/page.html');
    expect(res.headers.get('content-security-policy')).toContain('sandbox');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
  });

  it('serves non-media files as downloads, media inline', async () => {
    for (const [file, name] of [
      ['page.html', 'page.html'],
      ['app.js', 'app.js'],
      ['report.pdf', 'report.pdf'],
      ['data.json', 'data.json'],
    ]) {
      const res = await get(`/files/${file}`);
      expect(res.status, file).toBe(200);
      expect(res.headers.get('content-disposition'), file).toBe(`attachment; filename="${name}"; filename*=UTF-8''${name}`);
      // Still sandboxed, still typed (a fetch or a vendor reads it as before).
      expect(res.headers.get('content-security-policy'), file).toContain('sandbox');
    }
    // A name that is not plain ASCII: a safe fallback and the exact name (RFC 6266 / 5987).
    const odd = await get(`/files/${encodeURIComponent('résumé "final".txt')}`);
    expect(odd.headers.get('content-disposition')).toBe(`attachment; filename="r_sum_ _final_.txt"; filename*=UTF-8''r%C3%A9sum%C3%A9%20%22final%22.txt`);
    for (const file of ['runs/r1/clip.mp4', 'voice%20over.mp3', 'still.png', 'logo.svg']) {
      const res = await get(`/files/${file}`);
      expect(res.status, file).toBe(200);
      expect(res.headers.get('content-disposition'), file).toBeNull();
    }
    const head = await fetch(`${server.url}/files/app.js`, { method: 'HEAD' });
    expect(head.headers.get('content-disposition')).toMatch(/^attachment;/);
  });

  it('parseRange handles the forms browsers send', () => {
    expect(parseRange(undefined, 10)).toBeUndefined();
    expect(parseRange('bytes=0-4', 10)).toEqual({ start: 0, end: 4 });
    expect(parseRange('bytes=5-100', 10)).toEqual({ start: 5, end: 9 });
    expect(parseRange('bytes=-3', 10)).toEqual({ start: 7, end: 9 });
    expect(parseRange('bytes=0-1,4-5', 10)).toBeUndefined();
    expect(parseRange('bytes=10-', 10)).toBeNull();
    expect(parseRange('bytes=4-2', 10)).toBeNull();
  });
});

describe('canvas', () => {
  it('serves the build, with a single-page-app fallback to index.html', async () => {
    const index = await get('/');
    expect(index.status).toBe(200);
    expect(await index.text()).toContain('<title>canvas</title>');
    expect(index.headers.get('cache-control')).toBe('no-cache');
    expect(index.headers.get('x-frame-options')).toBe('SAMEORIGIN');
    const deep = await get('/flows/123/edit');
    expect(await deep.text()).toContain('<title>canvas</title>');
    // The page runs under a policy: the build's own scripts only, requests to this server only.
    for (const page of [index, deep]) {
      const csp = page.headers.get('content-security-policy') ?? '';
      expect(csp).toBe(CANVAS_CSP);
      expect(csp).toContain("script-src 'self'");
      expect(csp).toContain("connect-src 'self'");
      expect(csp).toContain("object-src 'none'");
      expect(csp).toContain("frame-ancestors 'self'");
      expect(csp).not.toContain('unsafe-eval');
      expect(csp).not.toMatch(/script-src[^;]*unsafe-inline/);
    }
    const asset = await get('/assets/app-1234.js');
    expect(asset.headers.get('content-type')).toMatch(/javascript/);
    expect(asset.headers.get('cache-control')).toContain('immutable');
    expect((await get('/assets/missing.js')).status).toBe(404);
    // API paths never fall back to the canvas.
    const api = await get('/api/nothing-here');
    expect(api.status).toBe(404);
    expect((await api.json()).error.code).toBe('not_found');
  });

  it('says how to build the canvas when it is not built', async () => {
    const res = await get('/', {}, bare);
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('canvas is not built');
    expect(res.headers.get('content-security-policy')).toContain("default-src 'none'");
  });
});

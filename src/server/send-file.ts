/**
 * Serving files from a directory safely: paths are resolved inside the root (no `..`, no encoded
 * separators, no symlink escape), the content type comes from the extension, and single
 * `Range: bytes=` requests get 206 so <video> and <audio> elements can seek.
 */
import { createReadStream } from 'node:fs';
import { realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import type { Context } from 'hono';

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.md': 'text/markdown; charset=utf-8',
  '.srt': 'text/plain; charset=utf-8',
  '.vtt': 'text/vtt; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.avif': 'image/avif',
  '.ico': 'image/x-icon',
  '.mp4': 'video/mp4',
  '.m4v': 'video/mp4',
  '.webm': 'video/webm',
  '.mov': 'video/quicktime',
  '.mp3': 'audio/mpeg',
  '.m4a': 'audio/mp4',
  '.aac': 'audio/aac',
  '.wav': 'audio/wav',
  '.ogg': 'audio/ogg',
  '.oga': 'audio/ogg',
  '.flac': 'audio/flac',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.pdf': 'application/pdf',
};

export function contentTypeFor(file: string): string {
  return CONTENT_TYPES[path.extname(file).toLowerCase()] ?? 'application/octet-stream';
}

/**
 * The absolute path of `urlPath` (still percent-encoded, `/`-separated) inside `root`, or
 * undefined when it would leave the root or is not a plain relative path.
 */
export async function resolveInside(root: string, urlPath: string): Promise<string | undefined> {
  const segments: string[] = [];
  for (const raw of urlPath.split('/')) {
    if (raw === '') continue;
    let segment: string;
    try {
      segment = decodeURIComponent(raw);
    } catch {
      return undefined;
    }
    if (segment === '.' || segment === '..' || /[\\/\0]/.test(segment)) return undefined;
    segments.push(segment);
  }
  if (segments.length === 0) return undefined;
  const base = path.resolve(root);
  const candidate = path.join(base, ...segments);
  try {
    // A symlink inside the root must not lead outside it.
    const [realBase, realFile] = await Promise.all([realpath(base), realpath(candidate)]);
    return realFile.startsWith(realBase + path.sep) ? realFile : undefined;
  } catch {
    return undefined;
  }
}

/** Parse a single `bytes=a-b` / `bytes=a-` / `bytes=-n` range; null = unsatisfiable, undefined = ignore. */
export function parseRange(header: string | undefined, size: number): { start: number; end: number } | null | undefined {
  if (!header) return undefined;
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!match || (match[1] === '' && match[2] === '')) return undefined; // multi-range or junk: serve it whole
  let start: number;
  let end: number;
  if (match[1] === '') {
    const suffix = Number(match[2]);
    if (suffix === 0) return null;
    start = Math.max(0, size - suffix);
    end = size - 1;
  } else {
    start = Number(match[1]);
    end = match[2] === '' ? size - 1 : Math.min(Number(match[2]), size - 1);
  }
  if (start >= size || start > end) return null;
  return { start, end };
}

export interface SendFileOptions {
  cacheControl?: string;
  /** Extra headers (e.g. a CSP for user-generated media). */
  headers?: Record<string, string>;
}

/** Answer with the file (whole, or the requested byte range); undefined if it is not a regular file. */
export async function sendFile(c: Context, file: string, options: SendFileOptions = {}): Promise<Response | undefined> {
  const info = await stat(file).catch(() => undefined);
  if (!info?.isFile()) return undefined;
  const headers: Record<string, string> = {
    'Content-Type': contentTypeFor(file),
    'Accept-Ranges': 'bytes',
    'Last-Modified': info.mtime.toUTCString(),
    'X-Content-Type-Options': 'nosniff',
    ...(options.cacheControl ? { 'Cache-Control': options.cacheControl } : {}),
    ...options.headers,
  };
  const range = parseRange(c.req.header('range'), info.size);
  if (range === null) {
    return new Response(null, { status: 416, headers: { ...headers, 'Content-Range': `bytes */${info.size}` } });
  }
  const { start, end } = range ?? { start: 0, end: info.size - 1 };
  const length = info.size === 0 ? 0 : end - start + 1;
  headers['Content-Length'] = String(length);
  if (range) headers['Content-Range'] = `bytes ${start}-${end}/${info.size}`;
  const status = range ? 206 : 200;
  if (c.req.method === 'HEAD' || length === 0) return new Response(null, { status, headers });
  const body = Readable.toWeb(createReadStream(file, { start, end })) as ReadableStream<Uint8Array>;
  return new Response(body, { status, headers });
}

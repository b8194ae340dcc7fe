/**
 * Files the server hands out without an API key: stored files under `<dataDir>/files` (their keys
 * are unguessable; media inline, anything else as a download) and the canvas (`web/dist`, a
 * single-page app: unknown extensionless paths get index.html, under CANVAS_CSP). Without a built
 * canvas, `/` explains how to build it.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Hono } from 'hono';
import type { Config } from '@/lib/config';
import { NotFoundError } from '@/lib/errors';
import { contentTypeFor, resolveInside, sendFile } from '../send-file';

/** The canvas build, relative to this file (not the working directory). */
export const DEFAULT_WEB_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../web/dist');

// Media written by workers may be HTML or SVG from a vendor: opened directly, it must not run
// script on this origin (where the canvas keeps its API key). <video>/<img> ignore this header.
// Embedding is allowed from any origin: the canvas may be opened under another name than
// STITCH_BASE_URL (127.0.0.1 vs localhost), and vendors fetch these URLs anyway.
const MEDIA_HEADERS = { 'Content-Security-Policy': "default-src 'none'; sandbox", 'Cross-Origin-Resource-Policy': 'cross-origin' };

/** Images, audio and video open in the browser (the canvas previews them); nothing else does. */
const isMedia = (file: string) => /^(image|audio|video)\//.test(contentTypeFor(file));

/**
 * Any other stored file (`.html`, `.js`, `.pdf`, `.json`, …) is a download: opened from a link it
 * is saved, never shown as a page of this origin. (Fetches, `<track>` and vendors read it all the
 * same: the header only changes what a navigation does.)
 */
function asDownload(file: string): Record<string, string> {
  const name = path.basename(file);
  const ascii = name.replace(/[^\x20-\x7e]|["\\]/g, '_');
  const utf8 = encodeURIComponent(name).replace(/['()*]/g, (ch) => `%${ch.charCodeAt(0).toString(16).toUpperCase()}`);
  return { 'Content-Disposition': `attachment; filename="${ascii}"; filename*=UTF-8''${utf8}` };
}

/**
 * The canvas holds the API key, so its page runs only the build's own scripts: no inline script
 * (Vite emits none), no eval, no plugins, no `<base>` rewriting, no framing by other sites, and
 * requests (API calls, the SSE streams) only to this server. Styles come from the build's CSS
 * files; React Flow's positions and sizes are set through the DOM (`element.style`), which a
 * policy does not restrict. Media previews may come from anywhere a worker put them (this
 * server's /files, S3, a vendor's CDN, `data:`), as may images; they cannot run script.
 */
export const CANVAS_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  'img-src * data: blob:',
  'media-src * data: blob:',
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'self'",
].join('; ');
const CANVAS_HEADERS = { 'Content-Security-Policy': CANVAS_CSP };

const NOT_BUILT_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Stitch</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:4rem auto;padding:0 1rem}code{background:#f2f2f2;padding:0 .3em}</style>
</head><body>
<h1>Stitch is running</h1>
<p>The canvas is not built. Build it with <code>npm install</code> (it runs the build) or
<code>npx vite build web</code>, then reload.</p>
<p>The HTTP API works already: see <a href="/api/docs">/api/docs</a> and <a href="/api/health">/api/health</a>.</p>
</body></html>`;

export function staticRoutes(config: Config, webDir = DEFAULT_WEB_DIR) {
  const app = new Hono();
  const filesDir = path.join(config.dataDir, 'files');

  app.on(['GET', 'HEAD'], '/files/*', async (c) => {
    const key = c.req.path.slice('/files/'.length);
    const file = await resolveInside(filesDir, key);
    const headers = file && !isMedia(file) ? { ...MEDIA_HEADERS, ...asDownload(file) } : MEDIA_HEADERS;
    const response = file && (await sendFile(c, file, { cacheControl: 'public, max-age=31536000, immutable', headers }));
    if (!response) throw new NotFoundError(`File ${key}`);
    return response;
  });

  app.on(['GET', 'HEAD'], '*', async (c, next) => {
    const urlPath = c.req.path;
    if (urlPath.startsWith('/api/') || urlPath === '/api' || urlPath === '/metrics') return next();
    const index = path.join(webDir, 'index.html');
    if (!existsSync(index)) {
      if (urlPath === '/' || !path.extname(urlPath)) return c.html(NOT_BUILT_PAGE, 200, { 'Content-Security-Policy': "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'self'" });
      return next();
    }
    const file = urlPath === '/' ? index : await resolveInside(webDir, urlPath);
    // Vite's hashed assets never change; index.html must be revalidated to pick up a new build.
    const cacheControl = urlPath.startsWith('/assets/') ? 'public, max-age=31536000, immutable' : 'no-cache';
    const response = file && (await sendFile(c, file, { cacheControl, headers: CANVAS_HEADERS }));
    if (response) return response;
    if (path.extname(urlPath)) return next();
    return (await sendFile(c, index, { cacheControl: 'no-cache', headers: CANVAS_HEADERS })) ?? next();
  });
  return app;
}

/**
 * Files the server hands out without an API key: media under `<dataDir>/files` (their keys are
 * unguessable) and the canvas (`web/dist`, a single-page app: unknown extensionless paths get
 * index.html). Without a built canvas, `/` explains how to build it.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Hono } from 'hono';
import type { Config } from '@/lib/config';
import { NotFoundError } from '@/lib/errors';
import { resolveInside, sendFile } from '../send-file';

/** The canvas build, relative to this file (not the working directory). */
export const DEFAULT_WEB_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../web/dist');

// Media written by workers may be HTML or SVG from a vendor: opened directly, it must not run
// script on this origin (where the canvas keeps its API key). <video>/<img> ignore this header.
// Embedding is allowed from any origin: the canvas may be opened under another name than
// STITCH_BASE_URL (127.0.0.1 vs localhost), and vendors fetch these URLs anyway.
const MEDIA_HEADERS = { 'Content-Security-Policy': "default-src 'none'; sandbox", 'Cross-Origin-Resource-Policy': 'cross-origin' };

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
    const response = file && (await sendFile(c, file, { cacheControl: 'public, max-age=31536000, immutable', headers: MEDIA_HEADERS }));
    if (!response) throw new NotFoundError(`File ${key}`);
    return response;
  });

  app.on(['GET', 'HEAD'], '*', async (c, next) => {
    const urlPath = c.req.path;
    if (urlPath.startsWith('/api/') || urlPath === '/api' || urlPath === '/metrics') return next();
    const index = path.join(webDir, 'index.html');
    if (!existsSync(index)) {
      if (urlPath === '/' || !path.extname(urlPath)) return c.html(NOT_BUILT_PAGE);
      return next();
    }
    const file = urlPath === '/' ? index : await resolveInside(webDir, urlPath);
    // Vite's hashed assets never change; index.html must be revalidated to pick up a new build.
    const cacheControl = urlPath.startsWith('/assets/') ? 'public, max-age=31536000, immutable' : 'no-cache';
    const response = file && (await sendFile(c, file, { cacheControl }));
    if (response) return response;
    if (path.extname(urlPath)) return next();
    return (await sendFile(c, index, { cacheControl: 'no-cache' })) ?? next();
  });
  return app;
}

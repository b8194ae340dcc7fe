/**
 * One log line per request: method, path (query strings are not logged: they carry callback
 * tokens and SSE keys), status and duration. Bodies are never logged — node configs may hold keys.
 */
import type { MiddlewareHandler } from 'hono';
import { getLogger } from '@/lib/log';

export function requestLog(options: { quiet?: (path: string) => boolean } = {}): MiddlewareHandler {
  return async (c, next) => {
    const started = performance.now();
    await next();
    const path = c.req.path;
    const status = c.res.status;
    const level = status >= 500 ? 'error' : options.quiet?.(path) && status < 400 ? 'debug' : 'info';
    getLogger()[level]({ method: c.req.method, path, status, ms: Math.round(performance.now() - started) }, 'http request');
  };
}

/**
 * Bearer authentication for the management API. When a key is configured every request must carry
 * `Authorization: Bearer <key>`, except the routes `isPublic` names (callbacks carry their own
 * token, webhooks their signature). EventSource cannot set headers, so the SSE routes also accept
 * `?api_key=` (masked in logs like every key in a URL).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Context, MiddlewareHandler } from 'hono';
import { UnauthorizedError } from '@/lib/errors';

export interface ApiKeyOptions {
  /** The configured key; undefined = no authentication (the server is then loopback-only). */
  apiKey: string | undefined;
  /** Paths that authenticate otherwise, or not at all. */
  isPublic: (path: string, c: Context) => boolean;
  /** Paths that may pass the key as `?api_key=` (Server-Sent Events). */
  allowQueryKey?: (path: string) => boolean;
}

// Compare digests, not the strings: equal lengths for timingSafeEqual, and no length leak.
const digest = (value: string) => createHash('sha256').update(value).digest();

/** Constant-time equality of a presented credential and the configured key. */
export function keyMatches(presented: string | undefined, expected: string): boolean {
  if (presented === undefined) return false;
  return timingSafeEqual(digest(presented), digest(expected));
}

export function apiKeyAuth(options: ApiKeyOptions): MiddlewareHandler {
  const { apiKey } = options;
  if (!apiKey) return async (_c, next) => next();
  return async (c, next) => {
    const path = c.req.path;
    if (options.isPublic(path, c)) return next();
    const header = c.req.header('authorization');
    const bearer = header && /^Bearer\s+(.+)$/i.exec(header)?.[1]?.trim();
    const presented = bearer || (options.allowQueryKey?.(path) ? c.req.query('api_key') : undefined);
    if (!keyMatches(presented, apiKey)) {
      c.header('WWW-Authenticate', 'Bearer realm="stitch"');
      throw new UnauthorizedError(
        presented === undefined ? 'This route needs "Authorization: Bearer <STITCH_API_KEY>".' : 'The API key is not valid.',
      );
    }
    return next();
  };
}

/**
 * Without an API key the server trusts whoever can reach it, and binds to loopback only. Two ways
 * around that are closed here:
 *
 * - DNS rebinding: a page at `evil.example` whose name then resolves to 127.0.0.1 reaches the
 *   server with `Host: evil.example`. Only loopback host names (and STITCH_BASE_URL's host) are
 *   answered; anything else gets 403.
 * - Cross-site requests: a form or `fetch(…, {mode: 'no-cors'})` from another site can POST
 *   without a body or with a "simple" content type. State-changing requests that the browser marks
 *   as coming from another site (`Sec-Fetch-Site`, or an `Origin` other than the request's own)
 *   get 403. Callbacks and webhooks (`isPublic`) authenticate by token or signature and come
 *   from anywhere, so they are exempt from this rule but not from the host rule.
 *
 * With an API key neither applies: a browser never attaches the bearer key to a foreign request.
 */
import type { Context, MiddlewareHandler } from 'hono';
import { StitchError } from '@/lib/errors';

export interface SameSiteOptions {
  apiKey: string | undefined;
  /** STITCH_BASE_URL: its host is also accepted. */
  baseUrl: string;
  isPublic: (path: string, c: Context) => boolean;
}

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]', '::1']);
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** `Host` header → host name without the port (IPv6 literals keep their brackets). */
export function hostNameOf(hostHeader: string): string {
  const h = hostHeader.trim().toLowerCase();
  if (h.startsWith('[')) return h.slice(0, h.indexOf(']') + 1);
  return h.replace(/:\d+$/, '');
}

function forbidden(message: string): StitchError {
  return new StitchError('forbidden', message);
}

export function sameSiteOnly(options: SameSiteOptions): MiddlewareHandler {
  if (options.apiKey) return async (_c, next) => next();
  const allowed = new Set(LOOPBACK_HOSTS);
  try {
    allowed.add(hostNameOf(new URL(options.baseUrl).host));
  } catch {
    // an unparsable base URL adds nothing
  }
  return async (c, next) => {
    const host = c.req.header('host');
    if (host !== undefined && !allowed.has(hostNameOf(host))) {
      throw forbidden(`Host "${host}" is not served: without STITCH_API_KEY this server answers only loopback names and STITCH_BASE_URL's host.`);
    }
    if (SAFE_METHODS.has(c.req.method) || options.isPublic(c.req.path, c)) return next();
    const site = c.req.header('sec-fetch-site');
    const origin = c.req.header('origin');
    let crossOrigin = site !== undefined && site !== 'same-origin' && site !== 'none';
    if (!crossOrigin && origin !== undefined && host !== undefined) {
      try {
        crossOrigin = origin === 'null' || new URL(origin).host.toLowerCase() !== host.trim().toLowerCase();
      } catch {
        crossOrigin = true;
      }
    }
    if (crossOrigin) throw forbidden('Cross-site requests may not change state: this server has no API key, so it accepts changes only from its own pages.');
    return next();
  };
}

/**
 * The one place where errors become HTTP answers: Hono's own (malformed JSON, 415) by their
 * status, everything else as src/lib/client-errors.ts says — the MCP server maps errors the same
 * way — so a stack trace, a SQL fragment or a secret inside an exception never reaches a client.
 */
import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { toClientError } from '@/lib/client-errors';
import { getLogger } from '@/lib/log';

/** HTTP statuses raised by Hono itself (malformed JSON, 415, …) under a stable code. */
const CODE_BY_STATUS: Record<number, string> = {
  400: 'bad_request',
  401: 'unauthorized',
  404: 'not_found',
  405: 'method_not_allowed',
  413: 'payload_too_large',
  415: 'unsupported_media_type',
};

export interface ErrorBody {
  error: { code: string; message: string; details?: unknown };
}

export function errorBody(code: string, message: string, details?: unknown): ErrorBody {
  return { error: details === undefined ? { code, message } : { code, message, details } };
}

/** `app.onError`: map (src/lib/client-errors.ts), log what deserves it, answer `{error:{code,message,details?}}`. */
export function handleError(error: Error, c: Context): Response {
  if (error instanceof HTTPException) {
    const status = error.status as ContentfulStatusCode;
    const code = CODE_BY_STATUS[status] ?? (status >= 500 ? 'internal_error' : 'bad_request');
    return c.json(errorBody(code, error.message || code.replace(/_/g, ' ')), status);
  }
  const answer = toClientError(error);
  // The database's own words stay in the log: they may quote internals to an unauthenticated caller.
  if (answer.log !== 'none') getLogger()[answer.log]({ err: error, method: c.req.method, path: c.req.path }, answer.status >= 500 ? 'request failed' : 'request refused');
  if (answer.retryAfterSeconds) c.header('Retry-After', String(answer.retryAfterSeconds));
  return c.json(errorBody(answer.code, answer.message, answer.details), answer.status as ContentfulStatusCode);
}

export function handleNotFound(c: Context): Response {
  return c.json(errorBody('not_found', `No route for ${c.req.method} ${c.req.path}`), 404);
}

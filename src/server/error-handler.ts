/**
 * The one place where errors become HTTP answers. A `StitchError` keeps its code and message (they
 * are written for the caller); anything else is logged here and answered as a bare 500, so a stack
 * trace, a SQL fragment or a secret inside an exception never reaches a client.
 */
import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import pg from 'pg';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { StitchError } from '@/lib/errors';
import { getLogger } from '@/lib/log';
import { isConnectionError } from '@/lib/db/transient';

/** `StitchError.code` → HTTP status. Unlisted codes are server-side failures (500). */
const STATUS_BY_CODE: Record<string, ContentfulStatusCode> = {
  validation_failed: 400,
  bad_request: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  not_supported: 501,
  db_not_open: 503,
  unavailable: 503,
};

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

export function statusForCode(code: string): ContentfulStatusCode {
  return STATUS_BY_CODE[code] ?? 500;
}

/**
 * PostgreSQL refusing the data itself is the request's fault, not the server's: class 22 (data
 * exception: `\u0000` in jsonb, a NUL byte in text, a number out of range) and class 54 (program
 * limit: nesting too deep for jsonb).
 */
function isRefusedData(error: Error): boolean {
  return error instanceof pg.DatabaseError && typeof error.code === 'string' && /^(22|54)/.test(error.code);
}

/** Deeply nested input can exhaust the stack while it is validated or compiled. */
function isStackOverflow(error: Error): boolean {
  return error instanceof RangeError && /call stack/i.test(error.message);
}

/** `app.onError`: map, log what deserves it, answer `{error:{code,message,details?}}`. */
export function handleError(error: Error, c: Context): Response {
  if (error instanceof StitchError) {
    const status = statusForCode(error.code);
    if (status >= 500) getLogger().error({ err: error, path: c.req.path }, 'request failed');
    return c.json(errorBody(error.code, error.message, error.details), status);
  }
  if (error instanceof HTTPException) {
    const status = error.status as ContentfulStatusCode;
    const code = CODE_BY_STATUS[status] ?? (status >= 500 ? 'internal_error' : 'bad_request');
    return c.json(errorBody(code, error.message || code.replace(/_/g, ' ')), status);
  }
  if (isRefusedData(error)) {
    // The database's own words stay in the log: they may quote internals to an unauthenticated caller.
    getLogger().warn({ err: error, method: c.req.method, path: c.req.path }, 'the database refused the request\'s data');
    return c.json(errorBody('invalid_data', 'The database cannot store this request\'s data (a value out of range, a NUL character, or nesting too deep).'), 400);
  }
  if (isConnectionError(error)) {
    getLogger().warn({ err: error, method: c.req.method, path: c.req.path }, 'database unavailable while handling a request');
    c.header('Retry-After', '5');
    return c.json(errorBody('unavailable', 'The database is unavailable; try again shortly.'), 503);
  }
  if (isStackOverflow(error)) return c.json(errorBody('invalid_data', 'The request is nested too deeply.'), 400);
  getLogger().error({ err: error, method: c.req.method, path: c.req.path }, 'unexpected error while handling a request');
  return c.json(errorBody('internal_error', 'Internal server error: the details are in the server log.'), 500);
}

export function handleNotFound(c: Context): Response {
  return c.json(errorBody('not_found', `No route for ${c.req.method} ${c.req.path}`), 404);
}

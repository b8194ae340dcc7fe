/**
 * What a client is told about an error, whichever door it came in by (HTTP in
 * src/server/error-handler.ts, MCP in src/lib/mcp/server.ts). A `StitchError` keeps its code and
 * message (they are written for the caller); data the database refuses is the request's fault,
 * told in Stitch's own words; a database that is gone is "unavailable"; anything else is an
 * internal error whose details stay in the log. A stack trace, a SQL fragment or the database's
 * wording never reaches a client.
 */
import pg from 'pg';
import { StitchError } from '@/lib/errors';
import { isConnectionError } from '@/lib/db/transient';

/** `StitchError.code` → HTTP status. Unlisted codes are server-side failures (500). */
const STATUS_BY_CODE: Record<string, number> = {
  validation_failed: 400,
  bad_request: 400,
  invalid_data: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  limit_reached: 409,
  not_supported: 501,
  db_not_open: 503,
  unavailable: 503,
};

export function statusForCode(code: string): number {
  return STATUS_BY_CODE[code] ?? 500;
}

export interface ClientError {
  status: number;
  code: string;
  message: string;
  details?: unknown;
  /** Seconds to wait before trying again (503s). */
  retryAfterSeconds?: number;
  /** How the server logs it: the client's own mistakes are not logged as errors. */
  log: 'none' | 'warn' | 'error';
}

/**
 * PostgreSQL refusing the data itself is the request's fault, not the server's: class 22 (data
 * exception: `\u0000` in jsonb, a NUL byte in text, a number out of range) and class 54 (program
 * limit: nesting too deep for jsonb).
 */
function isRefusedData(error: unknown): boolean {
  return error instanceof pg.DatabaseError && typeof error.code === 'string' && /^(22|54)/.test(error.code);
}

/** Deeply nested input can exhaust the stack while it is validated or compiled. */
function isStackOverflow(error: unknown): boolean {
  return error instanceof RangeError && /call stack/i.test(error.message);
}

export const REFUSED_DATA_MESSAGE = "The database cannot store this request's data (a value out of range, a NUL character, or nesting too deep).";

export function toClientError(error: unknown): ClientError {
  if (error instanceof StitchError) {
    const status = statusForCode(error.code);
    return { status, code: error.code, message: error.message, details: error.details, log: status >= 500 ? 'error' : 'none' };
  }
  if (isRefusedData(error)) return { status: 400, code: 'invalid_data', message: REFUSED_DATA_MESSAGE, log: 'warn' };
  if (isConnectionError(error)) {
    return { status: 503, code: 'unavailable', message: 'The database is unavailable; try again shortly.', retryAfterSeconds: 5, log: 'warn' };
  }
  if (isStackOverflow(error)) return { status: 400, code: 'invalid_data', message: 'The request is nested too deeply.', log: 'none' };
  return { status: 500, code: 'internal_error', message: 'Internal server error: the details are in the server log.', log: 'error' };
}

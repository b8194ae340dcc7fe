/**
 * Request body size limit (STITCH_BODY_LIMIT_BYTES, default 1 MB). Hono's bodyLimit checks
 * Content-Length up front and counts streamed bodies as they arrive; beyond the limit the answer
 * is 413 in Stitch's error shape, before any handler parses anything.
 */
import type { MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { errorBody } from '../error-handler';

export function limitBody(maxBytes: number): MiddlewareHandler {
  return bodyLimit({
    maxSize: maxBytes,
    onError: (c) => {
      // The rest of the body is never read: the connection cannot carry another request, so say
      // so, or a keep-alive client would send its next request into a socket about to close.
      c.header('Connection', 'close');
      return c.json(errorBody('payload_too_large', `The request body is larger than ${maxBytes} bytes.`), 413);
    },
  });
}

/**
 * Request body size limit (STITCH_BODY_LIMIT_BYTES, default 1 MB): beyond it the answer is 413 in
 * Stitch's error shape, before any handler parses anything.
 *
 * Every body is read in full before any handler runs, and an oversized one is read and thrown away
 * (up to DRAIN_CAP_BYTES) before the 413: a handler that answers without reading the body (401,
 * 404, 415) would otherwise leave unread bytes on a keep-alive connection, which the HTTP layer
 * then cuts, and a client still writing would see a broken socket instead of the answer. Beyond
 * the cap the connection is closed (`Connection: close`).
 */
import type { Context, MiddlewareHandler } from 'hono';
import { errorBody } from '../error-handler';

const DRAIN_CAP_BYTES = 16 * 1024 * 1024;

function tooLarge(c: Context, maxBytes: number, closeConnection: boolean): Response {
  if (closeConnection) c.header('Connection', 'close');
  return c.json(errorBody('payload_too_large', `The request body is larger than ${maxBytes} bytes.`), 413);
}

/** Read and discard up to `cap` more bytes; true when the stream ended within the cap. */
async function drain(reader: ReadableStreamDefaultReader<Uint8Array>, cap: number): Promise<boolean> {
  let read = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return true;
    read += value.length;
    if (read > cap) {
      await reader.cancel().catch(() => {});
      return false;
    }
  }
}

export function limitBody(maxBytes: number): MiddlewareHandler {
  return async (c, next) => {
    const body = c.req.raw.body;
    if (!body) return next();
    const declared = c.req.header('content-length');
    if (declared !== undefined && !c.req.header('transfer-encoding') && Number(declared) > maxBytes) {
      const drained = Number(declared) <= DRAIN_CAP_BYTES && (await drain(body.getReader(), DRAIN_CAP_BYTES));
      return tooLarge(c, maxBytes, !drained);
    }
    // Buffer the body (counting: a chunked body declares no length).
    const reader = body.getReader();
    const chunks: Uint8Array[] = [];
    let size = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.length;
      if (size > maxBytes) return tooLarge(c, maxBytes, !(await drain(reader, DRAIN_CAP_BYTES - size)));
      chunks.push(value);
    }
    c.req.raw = new Request(c.req.raw, { body: Buffer.concat(chunks) });
    return next();
  };
}

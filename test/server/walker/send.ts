/**
 * One raw HTTP request with full control over the path (malformed escapes go out as written), the
 * headers and the body (bytes, or a large body streamed from one reused chunk so the client holds
 * no copy). Returns the answer and how long after the request's end it came; a server that answers
 * early and closes the connection while the body is still being written is an answer, not an error.
 */
import http from 'node:http';

export type WalkBody = { bytes: Buffer } | { size: number; chunked?: boolean; fill?: string };

export interface WalkRequest {
  method: string;
  path: string;
  headers?: Record<string, string>;
  body?: WalkBody;
  /** An event stream is answered this long after its headers (default 20 ms); it ends earlier if the server ends it. */
  streamMs?: number;
}

export interface WalkAnswer {
  status: number;
  headers: http.IncomingHttpHeaders;
  /** The body as text, at most READ_CAP bytes (an event stream: only what came at once). */
  text: string;
  /** Milliseconds from the request's last byte (or the answer, if it came first) to the answer's end. */
  afterEndMs: number;
}

const READ_CAP = 256 * 1024;
const CHUNK = 64 * 1024;

/** Send and wait for the answer; rejects if there is none within `answerMs` of the request's end. */
export function send(base: URL, request: WalkRequest, answerMs: number): Promise<WalkAnswer> {
  return new Promise((resolve, reject) => {
    let requestEnded: number | undefined;
    let settled = false;
    const headers: Record<string, string | number> = { ...request.headers };
    const body = request.body;
    if (body && 'bytes' in body) headers['content-length'] = body.bytes.length;
    else if (body && !body.chunked) headers['content-length'] = body.size;
    const req = http.request({ host: base.hostname, port: base.port, method: request.method, path: request.path, headers, agent: false });
    let timer: NodeJS.Timeout | undefined;
    const armTimer = () => {
      clearTimeout(timer);
      timer = setTimeout(() => fail(new Error(`no answer within ${answerMs} ms of the request's end`)), answerMs);
    };
    const fail = (error: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.destroy();
      reject(error);
    };
    req.on('finish', () => {
      requestEnded = performance.now();
      armTimer();
    });
    req.on('error', (error) => {
      // The server answered and closed while we were still writing: the answer settles this request.
      if (!gotResponse) fail(error);
    });
    let gotResponse = false;
    req.on('response', (res) => {
      gotResponse = true;
      armTimer();
      const chunks: Buffer[] = [];
      let size = 0;
      const finish = () => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        const now = performance.now();
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          text: Buffer.concat(chunks).toString('utf8'),
          afterEndMs: requestEnded === undefined ? 0 : Math.max(0, now - requestEnded),
        });
        res.destroy();
        req.destroy();
      };
      // A stream that never ends (Server-Sent Events) is answered once its headers came.
      if (/text\/event-stream/.test(String(res.headers['content-type']))) {
        setTimeout(finish, request.streamMs ?? 20);
      }
      res.on('data', (chunk: Buffer) => {
        if (size < READ_CAP) chunks.push(chunk);
        size += chunk.length;
      });
      res.on('end', finish);
      res.on('close', finish);
      res.on('error', finish);
    });
    if (!body) return void req.end();
    if ('bytes' in body) return void req.end(body.bytes);
    // A large body from one reused chunk, written as the socket drains; stopped once answered.
    const chunk = Buffer.alloc(CHUNK, body.fill ?? 'x');
    let left = body.size;
    const pump = () => {
      while (left > 0 && !gotResponse && !settled) {
        const n = Math.min(left, CHUNK);
        left -= n;
        const ok = req.write(n === CHUNK ? chunk : chunk.subarray(0, n));
        if (!ok) return void req.once('drain', pump);
      }
      if (left === 0 || gotResponse) req.end();
    };
    pump();
  });
}

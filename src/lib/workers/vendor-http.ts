/**
 * HTTP calls to vendor APIs, with one error policy for every integration:
 *
 *   timeout / connection error / 5xx / 529  → retriable Error        (the engine backs off and retries)
 *   429 (or a vendor's own rate-limit code) → RetryAfterError        (waits Retry-After, default 30 s)
 *   other 4xx                               → NonRetriableError      (bad request, key, quota: retrying cannot help)
 *   2xx with a body that does not parse     → retriable Error "malformed response"
 *
 * Messages name the vendor, status and the vendor's own error text; never request headers (keys).
 */
import { NonRetriableError, RetryAfterError } from '@/lib/errors';
import { startCallSpan, tracingOn } from '@/lib/tracing/tracer';

export interface VendorRequest {
  /** Vendor name for messages ("MiniMax"). */
  vendor: string;
  url: string;
  method?: 'GET' | 'POST';
  headers?: Record<string, string>;
  /** Sent as JSON (sets Content-Type). */
  json?: unknown;
  timeoutMs: number;
  /** Pull a readable message out of the vendor's error body. */
  describeError?: (body: unknown) => string | undefined;
}

const DEFAULT_RETRY_AFTER_MS = 30_000;

/** `Retry-After` in seconds or as an HTTP date, in ms. */
export function retryAfterMs(header: string | null, fallback = DEFAULT_RETRY_AFTER_MS): number {
  if (!header) return fallback;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const at = Date.parse(header);
  return Number.isNaN(at) ? fallback : Math.max(0, at - Date.now());
}

function parseMaybeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** Send the request; resolve with the (2xx) response, or throw a classified error. */
export async function vendorFetch(request: VendorRequest): Promise<Response> {
  const { vendor, url, timeoutMs } = request;
  const path = new URL(url).pathname;
  const method = request.method ?? (request.json === undefined ? 'GET' : 'POST');
  // With tracing on, the call is a child span of the attempt making it (docs/operations.md, "Tracing").
  const span = tracingOn() ? startCallSpan(`${vendor} ${method} ${path}`, new URL(url), method) : undefined;
  let response: Response;
  try {
    response = await fetch(url, {
      method,
      headers: { ...(request.json === undefined ? {} : { 'Content-Type': 'application/json' }), ...request.headers },
      body: request.json === undefined ? undefined : JSON.stringify(request.json),
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (error) {
    const e = error as Error;
    span?.end(undefined, e.message);
    if (e.name === 'TimeoutError' || e.name === 'AbortError') {
      throw new Error(`${vendor} ${path} timed out after ${Math.round(timeoutMs / 1000)}s`, { cause: error });
    }
    throw new Error(`${vendor} ${path} could not be reached: ${e.message}`, { cause: error });
  }
  span?.end(response.status);
  if (response.ok) return response;

  const body = parseMaybeJson(await response.text().catch(() => ''));
  const detail = request.describeError?.(body) ?? (typeof body === 'string' ? body : JSON.stringify(body));
  const message = `${vendor} ${path} answered ${response.status}${detail ? `: ${detail.slice(0, 500)}` : ''}`;
  if (response.status === 429) throw new RetryAfterError(message, retryAfterMs(response.headers.get('retry-after')));
  if (response.status >= 500 || response.status === 408) throw Object.assign(new Error(message), { status: response.status });
  throw Object.assign(new NonRetriableError(message), { status: response.status });
}

/** `vendorFetch` and parse a JSON body (a body that is not JSON is a retriable "malformed response"). */
export async function vendorJson<T = Record<string, unknown>>(request: VendorRequest): Promise<T> {
  const response = await vendorFetch(request);
  const text = await response.text();
  try {
    const value = JSON.parse(text) as unknown;
    if (value === null || typeof value !== 'object') throw new Error('not an object');
    return value as T;
  } catch {
    throw malformed(request.vendor, new URL(request.url).pathname, `not JSON: ${text.slice(0, 120)}`);
  }
}

/** The error for a 2xx answer we cannot use (missing fields, wrong type). Retriable: it may be transient. */
export function malformed(vendor: string, what: string, why: string): Error {
  return new Error(`${vendor} ${what}: malformed response (${why})`);
}

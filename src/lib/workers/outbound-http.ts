/**
 * Outbound HTTP to addresses a user typed in (the http-webhook worker's service, a flow's alert
 * target): the SSRF guard, the signature and the POST, one way for both.
 *
 * SSRF: targets that are not public unicast addresses (address-policy.ts: loopback, private,
 * link-local (cloud metadata), CGNAT, multicast, reserved, and IPv6 forms carrying such an IPv4)
 * are refused — checked on the address actually connected to (the DNS answer), so a public name
 * resolving to 10.0.0.1 is refused too and cannot rebind between check and connect.
 * `STITCH_WEBHOOK_ALLOW_PRIVATE=1` lifts this (local development, tests).
 *
 * Signature: `X-Stitch-Timestamp: <unix seconds>` and `X-Stitch-Signature: sha256=<hex HMAC-SHA256
 * of "<timestamp>.<raw body>">` with the webhook signing secret (STITCH_WEBHOOK_SIGNING_SECRET, else
 * one generated once and kept in the database).
 */
import { createHmac, randomBytes } from 'node:crypto';
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP } from 'node:net';
import { getConfig } from '@/lib/config';
import { startCallSpan, tracingOn } from '@/lib/tracing/tracer';
import { NonRetriableError } from '@/lib/errors';
import { getPool } from '@/lib/db/pool';
import { getOrCreateSetting } from '@/lib/db/queries/settings';
import { blockedReason } from './address-policy';

type LookupCallback = (error: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/** A `lookup` for http(s).request that refuses blocked answers — the check sits on the connection itself. */
function guardedLookup(hostname: string, options: { all?: boolean; family?: number } | number, callback: LookupCallback): void {
  const opts = typeof options === 'number' ? { family: options } : options;
  dnsLookup(hostname, { ...opts, all: true }, (error, addresses: LookupAddress[]) => {
    if (error) return callback(error, []);
    const bad = addresses.map((a) => blockedReason(a.address)).find(Boolean);
    if (bad) return callback(Object.assign(new Error(`refused: ${hostname} resolves to ${bad}`), { code: 'ESSRF' }), []);
    if (opts.all) return callback(null, addresses);
    callback(null, addresses[0].address, addresses[0].family);
  });
}

/**
 * Refuse a target before any request: bad scheme, credentials in the URL, or a blocked literal IP.
 * `field` names the setting in messages (`config.webhookUrl`, `alerts[0].to`).
 */
export function checkTarget(raw: unknown, allowPrivate: boolean, field: string): URL {
  let url: URL;
  try {
    url = new URL(String(raw));
  } catch {
    throw new NonRetriableError(`${field} is not a valid URL: ${JSON.stringify(raw)}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new NonRetriableError(`${field} must be http(s), not ${url.protocol}`);
  if (url.username || url.password) throw new NonRetriableError(`${field} must not carry credentials`);
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (!allowPrivate && isIP(host)) {
    const bad = blockedReason(host);
    if (bad) throw new NonRetriableError(`Refused to call ${url.host}: ${bad} (set STITCH_WEBHOOK_ALLOW_PRIVATE=1 to allow)`);
  }
  return url;
}

/** The signing secret: STITCH_WEBHOOK_SIGNING_SECRET, else generated once and shared through the database. */
export async function getWebhookSigningSecret(): Promise<string> {
  const configured = getConfig().webhookSigningSecret;
  if (configured) return configured;
  return getOrCreateSetting(getPool(), 'webhook_signing_secret', randomBytes(32).toString('base64url'));
}

/** `sha256=<hex>` over `${timestamp}.${body}`: what receivers recompute and compare (timingSafeEqual). */
export function signWebhook(secret: string, timestamp: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

/** The two signature headers for `body`, signed now. */
export async function signatureHeaders(body: string): Promise<Record<string, string>> {
  const timestamp = String(Math.floor(Date.now() / 1000));
  return { 'X-Stitch-Timestamp': timestamp, 'X-Stitch-Signature': signWebhook(await getWebhookSigningSecret(), timestamp, body) };
}

export interface PostAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** The first 2,000 characters of the body. */
  text: string;
}

/** POST a JSON body; a refused address rejects with `code: 'ESSRF'`. */
export function postJson(url: URL, body: string, headers: Record<string, string>, timeoutMs: number, allowPrivate: boolean): Promise<PostAnswer> {
  // Inside a node attempt with tracing on: a child span, and its `traceparent` for the receiver.
  const span = tracingOn() ? startCallSpan(`POST ${url.host}`, url, 'POST') : undefined;
  if (span) headers = { ...headers, traceparent: span.traceparent };
  const answer = new Promise<PostAnswer>((resolve, reject) => {
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    const req = send(
      url,
      {
        method: 'POST',
        headers: { ...headers, 'Content-Type': 'application/json', 'Content-Length': String(Buffer.byteLength(body)) },
        timeout: timeoutMs,
        ...(allowPrivate ? {} : { lookup: guardedLookup as never }),
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text = (text + c).slice(0, 2000)));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(Object.assign(new Error(`timed out after ${Math.round(timeoutMs / 1000)}s`), { code: 'ETIMEDOUT' })));
    req.on('error', reject);
    req.end(body);
  });
  if (!span) return answer;
  return answer.then(
    (a) => (span.end(a.status), a),
    (error: Error) => {
      span.end(undefined, error.message);
      throw error;
    },
  );
}

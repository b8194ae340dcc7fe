/**
 * HTTP webhook: the external-worker protocol. Async. POSTs
 *   {runId, nodeId, input, callbackUrl}
 * to `config.webhookUrl`, signed: `X-Stitch-Timestamp: <unix seconds>` and
 * `X-Stitch-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<raw body>">` with the webhook
 * signing secret (STITCH_WEBHOOK_SIGNING_SECRET, else one generated once and kept in the database).
 * Nothing from the node config is sent. The service answers 2xx at once and later POSTs
 * `{status: "completed"|"failed", output?, error?}` to `callbackUrl`.
 *
 * SSRF: targets that are not public unicast addresses (address-policy.ts: loopback, private,
 * link-local (cloud metadata), CGNAT, multicast, reserved, and IPv6 forms carrying such an IPv4) are refused — checked on the address actually connected to (the DNS answer), so a
 * public name resolving to 10.0.0.1 is refused too and cannot rebind between check and connect.
 * `STITCH_WEBHOOK_ALLOW_PRIVATE=1` lifts this (local development, tests).
 */
import { createHmac, randomBytes } from 'node:crypto';
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP } from 'node:net';
import type { NodeConfig } from '@/types/stitch';
import { getConfig } from '@/lib/config';
import { NonRetriableError, RetryAfterError, errorMessage } from '@/lib/errors';
import { getPool } from '@/lib/db/pool';
import { getOrCreateSetting } from '@/lib/db/queries/settings';
import { updateNodeState } from '@/lib/db/runs';
import type { IWorker } from './base';
import { blockedReason } from './address-policy';
import { buildCallbackUrl, extractErrorContext, logWorker } from './utils';
import { retryAfterMs } from './vendor-http';
import { numberFrom } from './vendor-worker';

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

/** Refuse a target before any request: bad scheme, credentials in the URL, or a blocked literal IP. */
export function checkTarget(raw: unknown, allowPrivate: boolean): URL {
  let url: URL;
  try {
    url = new URL(String(raw));
  } catch {
    throw new NonRetriableError(`config.webhookUrl is not a valid URL: ${JSON.stringify(raw)}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new NonRetriableError(`config.webhookUrl must be http(s), not ${url.protocol}`);
  if (url.username || url.password) throw new NonRetriableError('config.webhookUrl must not carry credentials');
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

function post(url: URL, body: string, headers: Record<string, string>, timeoutMs: number, allowPrivate: boolean) {
  return new Promise<{ status: number; headers: Record<string, string | string[] | undefined>; text: string }>((resolve, reject) => {
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
}

export class HttpWebhookWorker implements IWorker {
  async execute(runId: string, nodeId: string, config: NodeConfig, input: unknown): Promise<void> {
    const { webhookAllowPrivate } = getConfig();
    const context = { worker: 'http-webhook', runId, nodeId };
    logWorker('info', 'HTTP webhook execution started', context);
    const url = checkTarget(config.webhookUrl, webhookAllowPrivate);
    // Store the input first: a fast service may call back before the POST below has returned.
    await updateNodeState(runId, nodeId, { status: 'running', output: input, metadata: { message: `POST ${url.host}` } });
    const body = JSON.stringify({ runId, nodeId, input, callbackUrl: buildCallbackUrl(runId, nodeId) });
    const timestamp = String(Math.floor(Date.now() / 1000));
    const headers = { 'X-Stitch-Timestamp': timestamp, 'X-Stitch-Signature': signWebhook(await getWebhookSigningSecret(), timestamp, body), 'User-Agent': 'Stitch-Webhook/1' };
    let answer;
    try {
      answer = await post(url, body, headers, numberFrom(config.requestTimeoutSeconds, 30) * 1000, webhookAllowPrivate);
    } catch (error) {
      const e = error as NodeJS.ErrnoException;
      logWorker('error', 'HTTP webhook failed', { ...context, error: errorMessage(error), ...extractErrorContext(error) });
      if (e.code === 'ESSRF') throw new NonRetriableError(`Refused to call ${url.host}: ${e.message} (set STITCH_WEBHOOK_ALLOW_PRIVATE=1 to allow)`);
      throw new Error(`Webhook ${url.host} could not be reached: ${e.message}`, { cause: error });
    }
    const message = `Webhook ${url.host}${url.pathname} answered ${answer.status}${answer.text ? `: ${answer.text.slice(0, 300)}` : ''}`;
    if (answer.status >= 200 && answer.status < 300) {
      logWorker('info', 'HTTP webhook accepted; waiting for its callback', { ...context, status: answer.status });
      return;
    }
    logWorker('error', 'HTTP webhook refused', { ...context, status: answer.status });
    if (answer.status === 429) throw new RetryAfterError(message, retryAfterMs(String(answer.headers['retry-after'] ?? '') || null));
    if (answer.status >= 500 || answer.status === 408) throw new Error(message);
    throw new NonRetriableError(message);
  }
}

/**
 * Callback tokens: an HMAC-SHA256 over (run, node instance, attempt, expiry), so a callback URL
 * is good for exactly one attempt of one node instance of one run, until it expires.
 * Format: `<attempt>.<expiresAtUnixSeconds>.<base64url signature>`.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { getConfig } from '@/lib/config';

let secret: string | undefined;

export function setCallbackSecret(value: string): void {
  secret = value;
}

export function hasCallbackSecret(): boolean {
  return secret !== undefined;
}

function requireSecret(): string {
  // Outside a Stitch process (a script POSTing callbacks), STITCH_SECRET is the shared secret.
  secret ??= getConfig().secret;
  if (!secret) {
    throw new Error(
      'No callback secret is loaded: start Stitch in this process (startStitch) or set STITCH_SECRET to the server\'s secret.',
    );
  }
  return secret;
}

function sign(runId: string, instanceId: string, attempt: number, expiresAt: number): string {
  return createHmac('sha256', requireSecret())
    .update(`stitch-callback:v1\n${runId}\n${instanceId}\n${attempt}\n${expiresAt}`)
    .digest('base64url');
}

export function createCallbackToken(runId: string, instanceId: string, attempt: number, ttlSeconds: number): string {
  const expiresAt = Math.floor(Date.now() / 1000) + Math.ceil(ttlSeconds);
  return `${attempt}.${expiresAt}.${sign(runId, instanceId, attempt, expiresAt)}`;
}

export type TokenCheck = { valid: true; attempt: number } | { valid: false; reason: 'malformed' | 'bad_signature' | 'expired' };

export function verifyCallbackToken(token: string | undefined, runId: string, instanceId: string): TokenCheck {
  // Exactly one spelling per token: no leading zeros (`01.<exp>.<sig>` is not attempt 1's token).
  const match = token ? /^([1-9]\d{0,5})\.([1-9]\d{0,11})\.([A-Za-z0-9_-]{43})$/.exec(token) : null;
  if (!match) return { valid: false, reason: 'malformed' };
  const attempt = Number(match[1]);
  const expiresAt = Number(match[2]);
  const expected = Buffer.from(sign(runId, instanceId, attempt, expiresAt));
  const given = Buffer.from(match[3]);
  if (expected.length !== given.length || !timingSafeEqual(expected, given)) return { valid: false, reason: 'bad_signature' };
  if (expiresAt < Date.now() / 1000) return { valid: false, reason: 'expired' };
  return { valid: true, attempt };
}

/**
 * An HMAC-SHA256 with the callback secret under another purpose label (e.g. presigned upload URLs),
 * so no signature made for one purpose is valid for another.
 */
export function signWithSecret(purpose: string, message: string): string {
  return createHmac('sha256', requireSecret()).update(`stitch-${purpose}:v1\n${message}`).digest('base64url');
}

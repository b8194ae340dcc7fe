/**
 * Which IP addresses an outbound call (the http-webhook worker) may connect to: public unicast only.
 * Ranges come from `ipaddr.js` (a maintained classification, RFC 6890 and friends), not from
 * hand-written prefixes; IPv6 forms that carry an IPv4 address — mapped (::ffff:0:0/96),
 * translated (::ffff:0:0:0/96), NAT64 (64:ff9b::/96), IPv4-compatible (::/96), 6to4 (2002::/16)
 * and Teredo (2001::/32, server and client) — are judged by the IPv4 address inside them, so
 * `[64:ff9b::a9fe:a9fe]` is the metadata address 169.254.169.254 and is refused. Pure: it never
 * connects anywhere, so it is tested offline.
 */
import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';

/** ipaddr.js range names, as a person would say them. */
const RANGE_WORDS: Record<string, string> = {
  linkLocal: 'link-local (cloud metadata lives here)',
  carrierGradeNat: 'carrier-grade NAT (private)',
  uniqueLocal: 'unique local (private)',
  private: 'private',
  loopback: 'loopback',
  unspecified: 'unspecified',
  broadcast: 'broadcast',
  multicast: 'multicast',
};
const describeRange = (address: string, range: string) => `${address} is a ${RANGE_WORDS[range] ?? `${range} (reserved)`} address`;

const ipv4 = (hi: number, lo: number) => new ipaddr.IPv4([hi >> 8, hi & 255, lo >> 8, lo & 255]);

/** The IPv4 addresses an IPv6 address carries, by its form; `null` for a form that must be refused outright. */
function embeddedIPv4(v6: ipaddr.IPv6): ipaddr.IPv4[] | null {
  const p = v6.parts;
  switch (v6.range()) {
    case 'ipv4Mapped':
    case 'rfc6145':
      return [ipv4(p[6], p[7])];
    case 'rfc6052':
      // 64:ff9b::/96 embeds the IPv4 in its last 32 bits; the local-use 64:ff9b:1::/48 maps per network.
      return p[2] === 0 && p[3] === 0 && p[4] === 0 && p[5] === 0 ? [ipv4(p[6], p[7])] : null;
    case '6to4':
      return [ipv4(p[1], p[2])];
    case 'teredo':
      return [ipv4(p[2], p[3]), ipv4(p[6] ^ 0xffff, p[7] ^ 0xffff)];
    default:
      // IPv4-compatible (::a.b.c.d, deprecated): the first 96 bits are zero.
      return v6.range() === 'unicast' && p.slice(0, 6).every((x) => x === 0) ? [ipv4(p[6], p[7])] : [];
  }
}

/** Why an address may not be called, or undefined when it may (public unicast). */
export function blockedReason(address: string): string | undefined {
  if (isIP(address) === 0) return `"${address}" is not an IP address`;
  const parsed = ipaddr.parse(address);
  if (parsed.kind() === 'ipv4') {
    const range = parsed.range();
    return range === 'unicast' ? undefined : describeRange(address, range);
  }
  const v6 = parsed as ipaddr.IPv6;
  const embedded = embeddedIPv4(v6);
  if (embedded === null) return `${address} is a local-use NAT64 address`;
  for (const v4 of embedded) {
    const inner = blockedReason(v4.toString());
    if (inner) return `${address} carries ${v4.toString()}: ${inner}`;
  }
  if (embedded.length > 0) return undefined;
  const range = v6.range();
  return range === 'unicast' ? undefined : describeRange(address, range);
}

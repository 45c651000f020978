/**
 * What kind of address a host name or IP is, for the two places that care: the web chat's Host
 * allow-list (loopback names) and the guarded fetch (only public addresses, unless configured).
 * Address ranges come from ipaddr.js, which keeps the IANA special-purpose tables.
 */
import ipaddr from 'ipaddr.js';

/** `[::1]` → `::1`; a trailing dot (`example.com.`) dropped; lower case. */
export function bareHost(host: string): string {
  let h = host.trim().toLowerCase();
  if (h.startsWith('[') && h.endsWith(']')) h = h.slice(1, -1);
  if (h.endsWith('.')) h = h.slice(0, -1);
  return h;
}

/** An IPv4 or IPv6 literal (brackets allowed); dotted-quad IPv4 only, not `127.1` or hex forms. */
export function isIpLiteral(host: string): boolean {
  const h = bareHost(host);
  return ipaddr.IPv6.isValid(h) || ipaddr.IPv4.isValidFourPartDecimal(h);
}

/** `localhost`, `*.localhost` (RFC 6761 keeps them on this machine), 127.0.0.0/8, ::1 and their mapped forms. */
export function isLoopbackHost(host: string): boolean {
  const h = bareHost(host);
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  if (!isIpLiteral(h)) return false;
  return ipaddr.process(h).range() === 'loopback';
}

/**
 * True only for globally routable unicast addresses. Refused: private (10/8, 172.16/12, 192.168/16),
 * loopback, link-local (169.254/16 — cloud metadata — and fe80::/10), unique-local (fc00::/7),
 * unspecified (0.0.0.0, ::), carrier-grade NAT, multicast, broadcast, documentation and reserved
 * ranges, and IPv6 forms that carry an IPv4 address inside (mapped ::ffff:0:0/96 is judged by the
 * IPv4 inside; NAT64, 6to4, Teredo and the old IPv4-compatible ::/96 are refused outright, since
 * the IPv4 address they lead to is not what the check would see).
 */
export function isPublicAddress(address: string): boolean {
  const h = bareHost(address);
  if (!ipaddr.isValid(h)) return false;
  const ip = ipaddr.process(h);
  if (ip.kind() === 'ipv6' && (ip as ipaddr.IPv6).parts.slice(0, 6).every((p) => p === 0)) return false;
  return ip.range() === 'unicast';
}

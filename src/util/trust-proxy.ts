/**
 * Which address a web request came from. By default the socket's: any client can write an
 * `X-Forwarded-For` header, so forwarded headers are read only when the operator says which proxies
 * to believe (TRUST_PROXY) and which header they write (TRUST_PROXY_HEADER). Then the chain of
 * addresses is walked from the socket leftwards, past the trusted proxies only: the first address a
 * trusted proxy vouches for and that is not itself a trusted proxy is the client.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { BlockList, isIP } from 'node:net';

/** TRUST_PROXY, parsed: believe nobody, the nearest N hops, or proxies at these addresses/ranges. */
export type TrustProxy =
  | { kind: 'none' }
  | { kind: 'hops'; hops: number }
  | { kind: 'addresses'; ranges: string[] };

/** The header the trusted proxies write (TRUST_PROXY_HEADER). */
export type ForwardedHeader = 'x-forwarded-for' | 'forwarded';

export interface ProxyTrust {
  trust: TrustProxy;
  header: ForwardedHeader;
}

export const TRUST_NOBODY: ProxyTrust = { trust: { kind: 'none' }, header: 'x-forwarded-for' };

/** Thrown by {@link parseTrustProxy}; the message names the forms, never the value. */
export const TRUST_PROXY_FORMS =
  'must be empty or 0 (trust no proxy), a hop count 1–10 (1 = one proxy in front), or comma-separated proxy addresses / CIDR ranges (not /0: that would trust every client)';

const MAX_HOPS = 10;

/** Parses TRUST_PROXY; undefined when the value is none of the accepted forms. */
export function parseTrustProxy(value: string | undefined): TrustProxy | undefined {
  const v = (value ?? '').trim().toLowerCase();
  if (['', '0', 'false', 'no', 'off'].includes(v)) return { kind: 'none' };
  if (['true', 'yes', 'on'].includes(v)) return { kind: 'hops', hops: 1 };
  if (/^\d+$/.test(v)) {
    const hops = Number(v);
    return hops >= 1 && hops <= MAX_HOPS ? { kind: 'hops', hops } : undefined;
  }
  const ranges = v
    .split(',')
    .map((r) => r.trim())
    .filter(Boolean);
  if (ranges.length === 0 || !ranges.every(validRange)) return undefined;
  return { kind: 'addresses', ranges };
}

function validRange(range: string): boolean {
  const [address = '', bits, extra] = range.split('/');
  const family = isIP(address);
  if (family === 0 || extra !== undefined) return false;
  if (bits === undefined) return true;
  if (!/^\d+$/.test(bits)) return false;
  // `/0` (0.0.0.0/0, ::/0) would believe every client's own X-Forwarded-For: refused.
  return Number(bits) >= 1 && Number(bits) <= (family === 4 ? 32 : 128);
}

/** An address without IPv4-mapped IPv6 dressing, zone or port; undefined when it is not an IP. */
export function normalizeAddress(raw: string | undefined): string | undefined {
  if (!raw) return undefined;
  let a = raw.trim().replace(/^"|"$/g, '');
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(a);
  if (bracketed?.[1]) a = bracketed[1];
  else if (/^\d+\.\d+\.\d+\.\d+:\d+$/.test(a)) a = a.slice(0, a.lastIndexOf(':'));
  a = a.replace(/%.*$/, '').toLowerCase();
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(a);
  if (mapped?.[1]) a = mapped[1];
  return isIP(a) === 0 ? undefined : a;
}

const compiled = new WeakMap<readonly string[], BlockList>();

/** The ranges as a node:net BlockList, built once per configuration. */
function blockList(ranges: readonly string[]): BlockList {
  const known = compiled.get(ranges);
  if (known) return known;
  const list = new BlockList();
  compiled.set(ranges, list);
  for (const range of ranges) {
    const [address = '', bits] = range.split('/');
    const family = isIP(address) === 6 ? 'ipv6' : 'ipv4';
    if (bits === undefined) list.addAddress(address, family);
    else list.addSubnet(address, Number(bits), family);
  }
  return list;
}

/** The `for=` addresses of a `Forwarded` header (RFC 7239), in order; unparseable ones as written. */
function forwardedFor(value: string): string[] {
  const out: string[] = [];
  for (const element of value.split(',')) {
    // Every element a proxy wrote (a name=value pair at least) is one hop, with for= or not: skipping
    // one would shift the hop count. An empty or pair-less element is nobody's hop.
    let forValue = '';
    let pairs = 0;
    for (const pair of element.split(';')) {
      const eq = pair.indexOf('=');
      if (eq <= 0) continue;
      pairs++;
      if (pair.slice(0, eq).trim().toLowerCase() === 'for') forValue = pair.slice(eq + 1).trim();
    }
    if (pairs > 0) out.push(forValue);
  }
  return out;
}

/** The forwarded chain, client first, as the configured header tells it. */
function forwardedChain(headers: IncomingHttpHeaders, header: ForwardedHeader): string[] {
  const raw = headers[header];
  const joined = Array.isArray(raw) ? raw.join(',') : (raw ?? '');
  if (joined.trim() === '') return [];
  if (header === 'forwarded') return forwardedFor(joined);
  return joined
    .split(',')
    .map((a) => a.trim())
    .filter(Boolean);
}

/**
 * The client address of a request: the socket's unless trusted proxies forwarded it. When the
 * entry the walk lands on is not an address ("unknown", an obfuscated name), the nearest address
 * to its right is used: the proxy that reported it, so such clients share that proxy's limit.
 */
export function clientAddress(
  socketAddress: string | undefined,
  headers: IncomingHttpHeaders,
  trust: ProxyTrust,
): string | undefined {
  const socket = normalizeAddress(socketAddress);
  if (trust.trust.kind === 'none') return socket;
  const chain = [...forwardedChain(headers, trust.header).map(normalizeAddress), socket];
  let i = chain.length - 1;
  if (trust.trust.kind === 'hops') {
    i = Math.max(0, chain.length - 1 - trust.trust.hops);
  } else {
    const trusted = blockList(trust.trust.ranges);
    const isTrusted = (a: string | undefined) =>
      a !== undefined && trusted.check(a, isIP(a) === 6 ? 'ipv6' : 'ipv4');
    while (i > 0 && isTrusted(chain[i])) i--;
  }
  for (let j = i; j < chain.length; j++) {
    if (chain[j] !== undefined) return chain[j];
  }
  return socket;
}

/**
 * TRUST_PROXY / TRUST_PROXY_HEADER and the client-address walk (src/util/trust-proxy.ts) against
 * RFC 7239 and the usual proxy conventions: every form of the setting (unset, empty, false-like,
 * true-like, counts, ranges, junk) and the header spellings real proxies write.
 */
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/util/config.ts';
import {
  clientAddress,
  normalizeAddress,
  type ProxyTrust,
  parseTrustProxy,
  TRUST_NOBODY,
} from '../../src/util/trust-proxy.ts';

const trust = (value: string, header: ProxyTrust['header'] = 'forwarded'): ProxyTrust => {
  const parsed = parseTrustProxy(value);
  if (!parsed) throw new Error(`bad TRUST_PROXY ${value}`);
  return { trust: parsed, header };
};

describe('TRUST_PROXY forms', () => {
  it('unset, empty and false-like values trust nobody', () => {
    for (const v of [undefined, '', '  ', '0', 'false', 'FALSE', 'no', 'No', 'off', ' OFF ']) {
      expect(parseTrustProxy(v)).toEqual({ kind: 'none' });
    }
    expect(loadConfig({}).proxyTrust).toEqual(TRUST_NOBODY);
  });

  it('true-like values trust the one proxy in front; counts 1–10 trust that many hops', () => {
    for (const v of ['true', 'TRUE', 'yes', 'Yes', 'on', 'ON', '1'])
      expect(parseTrustProxy(v)).toEqual({ kind: 'hops', hops: 1 });
    expect(parseTrustProxy('10')).toEqual({ kind: 'hops', hops: 10 });
    expect(parseTrustProxy(' 3 ')).toEqual({ kind: 'hops', hops: 3 });
    for (const v of ['11', '100', '00', '-1', '1.5', '1e1']) expect(parseTrustProxy(v)).toBeUndefined();
  });

  it('addresses and CIDR ranges of either family, bounded prefix lengths; anything else is refused', () => {
    expect(parseTrustProxy('10.0.0.0/8, ::1 ,192.0.2.7,')).toEqual({
      kind: 'addresses',
      ranges: ['10.0.0.0/8', '::1', '192.0.2.7'],
    });
    expect(parseTrustProxy('10.0.0.0/32')).toEqual({ kind: 'addresses', ranges: ['10.0.0.0/32'] });
    expect(parseTrustProxy('fd00::/128')).toEqual({ kind: 'addresses', ranges: ['fd00::/128'] });
    // A /0 range trusts every address, so any client could name its own address: refused (issue 22).
    expect(parseTrustProxy('10.0.0.0/0')).toBeUndefined();
    expect(parseTrustProxy('10.0.0.0/1')).toEqual({ kind: 'addresses', ranges: ['10.0.0.0/1'] });
    for (const v of [
      '10.0.0.0/ 8',
      '10.0.0.0/8e0',
      '10.0.0.0/0x8',
      '10.0.0.0/33',
      'fd00::/129',
      '10.0.0.0/x',
      '10.0.0.0/',
      '10.1.2.3/8/2',
      'proxy.local',
      ',',
      '10.0.0.1, nope',
    ])
      expect(parseTrustProxy(v)).toBeUndefined();
  });

  it('TRUST_PROXY_HEADER: x-forwarded-for by default; forwarded selects RFC 7239; others are refused', () => {
    expect(loadConfig({ TRUST_PROXY: '1' }).proxyTrust.header).toBe('x-forwarded-for');
    expect(loadConfig({ TRUST_PROXY: '1', TRUST_PROXY_HEADER: 'forwarded' }).proxyTrust.header).toBe(
      'forwarded',
    );
    expect(() => loadConfig({ TRUST_PROXY_HEADER: 'x-real-ip' })).toThrow(/TRUST_PROXY_HEADER/);
  });
});

describe('RFC 7239 Forwarded', () => {
  it('parameter names are case-insensitive (For=, FOR=), as the RFC says', () => {
    for (const name of ['for', 'For', 'FOR', 'fOr']) {
      const headers = { forwarded: `${name}=198.51.100.17;proto=https` };
      expect(clientAddress('10.0.0.1', headers, trust('1'))).toBe('198.51.100.17');
    }
    // Two clients behind the same proxy keep their own buckets whatever the spelling.
    const a = clientAddress('10.0.0.1', { forwarded: 'For=198.51.100.1' }, trust('10.0.0.1'));
    const b = clientAddress('10.0.0.1', { forwarded: 'FOR=198.51.100.2' }, trust('10.0.0.1'));
    expect([a, b]).toEqual(['198.51.100.1', '198.51.100.2']);
  });

  it('reads only for=, in any position of an element, with blanks around the separators', () => {
    const headers = { forwarded: 'by=203.0.113.43;host=example.com ; for=192.0.2.60 ;proto=http' };
    expect(clientAddress('10.0.0.1', headers, trust('1'))).toBe('192.0.2.60');
    expect(clientAddress('10.0.0.1', { forwarded: 'by=192.0.2.9' }, trust('1'))).toBe('10.0.0.1');
    expect(clientAddress('10.0.0.1', { forwarded: 'xfor=192.0.2.9' }, trust('1'))).toBe('10.0.0.1');
    expect(clientAddress('10.0.0.1', { forwarded: '=192.0.2.9' }, trust('1'))).toBe('10.0.0.1');
  });

  it('several elements and several header lines form one chain, client first', () => {
    const chain = { forwarded: ['for=192.0.2.1', 'for=198.51.100.2, for=203.0.113.3'] } as unknown as Record<
      string,
      string
    >;
    expect(clientAddress('10.0.0.1', chain, trust('1'))).toBe('203.0.113.3');
    expect(clientAddress('10.0.0.1', chain, trust('2'))).toBe('198.51.100.2');
    expect(clientAddress('10.0.0.1', chain, trust('3'))).toBe('192.0.2.1');
  });

  it('quoted values, IPv6 in brackets with ports, and obfuscated names fall back to the reporting proxy', () => {
    expect(clientAddress('10.0.0.1', { forwarded: 'for="[2001:db8:cafe::17]:4711"' }, trust('1'))).toBe(
      '2001:db8:cafe::17',
    );
    expect(clientAddress('10.0.0.1', { forwarded: 'for="192.0.2.43:47011"' }, trust('1'))).toBe('192.0.2.43');
    expect(clientAddress('10.0.0.1', { forwarded: 'for=_hidden, for=198.51.100.9' }, trust('2'))).toBe(
      '198.51.100.9',
    );
    expect(clientAddress('10.0.0.1', { forwarded: '   ' }, trust('1'))).toBe('10.0.0.1');
  });

  it('is not read when X-Forwarded-For is the configured header, and vice versa', () => {
    const headers = { forwarded: 'for=192.0.2.60', 'x-forwarded-for': '198.51.100.5' };
    expect(clientAddress('10.0.0.1', headers, trust('1', 'x-forwarded-for'))).toBe('198.51.100.5');
    expect(clientAddress('10.0.0.1', headers, trust('1', 'forwarded'))).toBe('192.0.2.60');
  });
});

describe('the walk and address normalisation', () => {
  it('trusted address lists stop at the first untrusted hop, and never step past the leftmost entry', () => {
    const headers = { 'x-forwarded-for': '192.0.2.1, 10.0.0.9, 198.51.100.4, 10.0.0.8' };
    expect(clientAddress('10.0.0.7', headers, trust('10.0.0.0/8', 'x-forwarded-for'))).toBe('198.51.100.4');
    // Every hop trusted: the leftmost is the client.
    expect(
      clientAddress(
        '10.0.0.7',
        { 'x-forwarded-for': '10.0.0.2, 10.0.0.3' },
        trust('10.0.0.0/8', 'x-forwarded-for'),
      ),
    ).toBe('10.0.0.2');
    // A single trusted address (no prefix) trusts that address only.
    expect(
      clientAddress('10.0.0.7', { 'x-forwarded-for': '10.0.0.8' }, trust('10.0.0.7', 'x-forwarded-for')),
    ).toBe('10.0.0.8');
    expect(
      clientAddress('10.0.0.6', { 'x-forwarded-for': '10.0.0.8' }, trust('10.0.0.7', 'x-forwarded-for')),
    ).toBe('10.0.0.6');
    // IPv6 ranges match IPv6 sockets.
    expect(
      clientAddress('fd00::1', { 'x-forwarded-for': '2001:db8::9' }, trust('fd00::/8', 'x-forwarded-for')),
    ).toBe('2001:db8::9');
  });

  it('empty list entries and elements without "=" are not hops', () => {
    const xff = { 'x-forwarded-for': '203.0.113.9, , ,10.0.0.2' };
    expect(clientAddress('10.0.0.1', xff, trust('2', 'x-forwarded-for'))).toBe('203.0.113.9');
    const fwd = { forwarded: 'for=203.0.113.9, junk, for=10.0.0.2' };
    expect(clientAddress('10.0.0.1', fwd, trust('2'))).toBe('203.0.113.9');
  });

  it('normalises mapped IPv4, zones, ports, brackets, quotes and case; refuses names', () => {
    expect(normalizeAddress('::ffff:192.0.2.1')).toBe('192.0.2.1');
    expect(normalizeAddress('FE80::1%eth0')).toBe('fe80::1');
    expect(normalizeAddress('192.0.2.1:8080')).toBe('192.0.2.1');
    expect(normalizeAddress('[2001:DB8::1]:443')).toBe('2001:db8::1');
    expect(normalizeAddress('[2001:db8::1]')).toBe('2001:db8::1');
    expect(normalizeAddress('"192.0.2.1"')).toBe('192.0.2.1');
    expect(normalizeAddress(' 192.0.2.1 ')).toBe('192.0.2.1');
    expect(normalizeAddress('2001:db8::1')).toBe('2001:db8::1');
    // Multi-digit octets throughout, so every part of the patterns is exercised.
    expect(normalizeAddress('192.168.100.200:8080')).toBe('192.168.100.200');
    expect(normalizeAddress('::ffff:192.168.100.200')).toBe('192.168.100.200');
    // An IPv6 address that merely contains ::ffff: is not an IPv4-mapped one.
    expect(normalizeAddress('1::ffff:192.0.2.1')).toBe('1::ffff:192.0.2.1');
    for (const v of [
      undefined,
      '',
      'unknown',
      '_hidden',
      'example.com',
      '192.0.2.1:x',
      '192.0.2.1:80x',
      'x[::1]',
      '[::1]:443x',
      '::ffff:192.0.2.1:80',
      '::ffff:192.0.2.1x',
    ])
      expect(normalizeAddress(v)).toBeUndefined();
  });
});

describe('trust-proxy: hops and refusals (issue 22)', () => {
  it('a Forwarded element without for= counts as a hop (the client is not taken from further left)', () => {
    const trust = { trust: { kind: 'hops', hops: 1 } as const, header: 'forwarded' as const };
    // The one trusted proxy wrote an element without for=: what lies left of it is the client's own text.
    const headers = { forwarded: 'for=6.6.6.6, proto=https;by=10.0.0.1' };
    expect(clientAddress('10.0.0.1', headers, trust)).toBe('10.0.0.1');
    const two = { trust: { kind: 'hops', hops: 2 } as const, header: 'forwarded' as const };
    expect(clientAddress('10.0.0.1', { forwarded: 'for=192.0.2.7, by=10.0.0.2' }, two)).toBe('192.0.2.7');
  });

  it('TRUST_PROXY=0.0.0.0/0 or ::/0 is refused, naming the variable', () => {
    for (const everyone of ['0.0.0.0/0', '::/0', '10.0.0.1, 0.0.0.0/0']) {
      expect(parseTrustProxy(everyone)).toBeUndefined();
      expect(() => loadConfig({ TRUST_PROXY: everyone })).toThrow(/TRUST_PROXY: .*not \/0/);
    }
    expect(parseTrustProxy('10.0.0.0/8')).toEqual({ kind: 'addresses', ranges: ['10.0.0.0/8'] });
  });
});

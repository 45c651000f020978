/**
 * Forwarded-header edge cases (more in test/web/client-limits.test.ts): a `Forwarded` element without
 * `for=` is still one hop, and a TRUST_PROXY range covering every address is refused.
 */
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/util/config.ts';
import { clientAddress, parseTrustProxy } from '../../src/util/trust-proxy.ts';

describe('trust-proxy', () => {
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

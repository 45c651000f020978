import { describe, expect, it } from 'vitest';
import { isImageSearchError } from '../../src/core/errors.ts';
import type { RateBuckets } from '../../src/core/types.ts';
import { addressKey, gcraStep, MemoryBuckets, RateLimiter } from '../../src/state/rate-limit.ts';
import { createConcurrencyLimiter } from '../../src/util/locks.ts';

describe('GCRA step (the arithmetic every bucket backend shares)', () => {
  it('a full bucket of perMinute allows a burst of perMinute, then one more every 60/perMinute s', () => {
    let tat: number | undefined;
    for (let i = 0; i < 3; i++) {
      const step = gcraStep(tat, 0, 3);
      expect(step.ok).toBe(true);
      if (step.ok) tat = step.tat;
    }
    expect(tat).toBe(60_000);
    expect(gcraStep(tat, 0, 3)).toEqual({ ok: false, retryAfterMs: 20_000 });
    expect(gcraStep(tat, 19_000, 3)).toEqual({ ok: false, retryAfterMs: 1_000 });
    expect(gcraStep(tat, 20_000, 3)).toEqual({ ok: true, tat: 80_000, ttlMs: 60_000 });
  });

  it('the time to live is "until full again", and rates that do not divide a minute still allow the whole burst', () => {
    expect(gcraStep(undefined, 1000, 4)).toEqual({ ok: true, tat: 16_000, ttlMs: 15_000 });
    let tat: number | undefined;
    const taken = Array.from({ length: 8 }, () => {
      const step = gcraStep(tat, 0, 7);
      if (step.ok) tat = step.tat;
      return step.ok;
    });
    expect(taken).toEqual([true, true, true, true, true, true, true, false]);
  });
});

describe('memory buckets', () => {
  it('refuse past the burst with the wait, per key, and refill', async () => {
    let t = 0;
    const buckets = new MemoryBuckets({ now: () => t });
    expect([await buckets.take('u', 3), await buckets.take('u', 3), await buckets.take('u', 3)]).toEqual([
      { ok: true },
      { ok: true },
      { ok: true },
    ]);
    expect(await buckets.take('u', 3)).toEqual({ ok: false, retryAfterMs: 20_000 });
    expect((await buckets.take('other', 3)).ok).toBe(true);
    t = 20_000;
    expect((await buckets.take('u', 3)).ok).toBe(true);
    expect((await buckets.take('u', 3)).ok).toBe(false);
  });

  it('drop a bucket once it has refilled (eviction is observable), and cap how many they hold', async () => {
    let t = 0;
    const buckets = new MemoryBuckets({ now: () => t, maxKeys: 2 });
    await buckets.take('a', 6); // full again after 10 s
    await buckets.take('b', 1); // full again after 60 s
    expect(buckets.size).toBe(2);
    t = 10_001;
    expect(buckets.size).toBe(1);
    await buckets.take('c', 1);
    await buckets.take('d', 1);
    // Capped at 2: 'b', the least recently used, was evicted, so its user starts full again.
    expect(buckets.size).toBe(2);
    expect((await buckets.take('b', 1)).ok).toBe(true);
    t = 200_000;
    expect(buckets.size).toBe(0);
  });

  it('drop refilled buckets whatever the injected clock reads at the take, 1 ms included', async () => {
    let t = 1;
    const buckets = new MemoryBuckets({ now: () => t });
    await buckets.take('a', 6); // full again after 10 s
    expect(buckets.size).toBe(1);
    t = 10_002;
    expect(buckets.size).toBe(0);
  });
});

describe('rate limiter (per user and per client address)', () => {
  const counting = (inner: RateBuckets) => {
    const keys: string[] = [];
    const buckets: RateBuckets = {
      take: (key, perMinute) => {
        keys.push(key);
        return inner.take(key, perMinute);
      },
    };
    return { keys, buckets };
  };

  it('charges the address first; a request refused by it costs the user nothing', async () => {
    const { keys, buckets } = counting(new MemoryBuckets({ now: () => 0 }));
    const limiter = new RateLimiter(buckets, { perUser: 5, perAddress: 2 });
    const from = (userId: string) => limiter.take({ userId, clientAddress: '203.0.113.7' });
    expect((await from('web:a')).ok).toBe(true);
    expect((await from('web:b')).ok).toBe(true);
    expect(await from('web:c')).toEqual({ ok: false, retryAfterMs: 30_000 });
    expect(keys).toEqual([
      'addr:203.0.113.7',
      'user:web:a',
      'addr:203.0.113.7',
      'user:web:b',
      'addr:203.0.113.7',
    ]);
    // Without an address (Slack, Discord) only the user is charged.
    expect((await limiter.take({ userId: 'slack:U1' })).ok).toBe(true);
    expect(keys.at(-1)).toBe('user:slack:U1');
  });

  it('refuses by user even when the address has room', async () => {
    const limiter = new RateLimiter(new MemoryBuckets({ now: () => 0 }), { perUser: 1, perAddress: 10 });
    expect((await limiter.take({ userId: 'web:a', clientAddress: '198.51.100.1' })).ok).toBe(true);
    expect((await limiter.take({ userId: 'web:a', clientAddress: '198.51.100.2' })).ok).toBe(false);
  });

  it('groups IPv6 clients by /64 and IPv4-mapped addresses with IPv4', () => {
    expect(addressKey('2001:db8:1:2:aaaa::1')).toBe('2001:db8:1:2::/64');
    expect(addressKey('2001:DB8:1:2:ffff:ffff:ffff:ffff')).toBe('2001:db8:1:2::/64');
    expect(addressKey('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(addressKey('::1')).toBe('0:0:0:0::/64');
    expect(addressKey('fe80::1%eth0')).toBe('fe80:0:0:0::/64');
    expect(addressKey('::ffff:192.0.2.1')).toBe('192.0.2.1');
    expect(addressKey('192.0.2.1')).toBe('192.0.2.1');
  });

  it('expands "::" by the groups actually written, an embedded IPv4 counting as two', () => {
    expect(addressKey('2001:db8::1:2:3:4:5')).toBe('2001:db8:0:1::/64');
    expect(addressKey('2001:db8::a:b:c:192.0.2.1')).toBe('2001:db8:0:a::/64');
    expect(addressKey('1:2:3:4:5:6:192.0.2.1')).toBe('1:2:3:4::/64');
    // Only the exact ::ffff:a.b.c.d form is IPv4; other prefixes before an IPv4 tail are IPv6.
    expect(addressKey('2001:db8::ffff:192.0.2.1')).toBe('2001:db8:0:0::/64');
    expect(addressKey('::ffff:198.51.100.17')).toBe('198.51.100.17');
    expect(addressKey('::ffff:192.0.2.1%eth0')).toBe('192.0.2.1');
  });

  it('anything that is not an address (a port left on, a placeholder) is its own key, lowercased', () => {
    expect(addressKey('Unknown')).toBe('unknown');
    expect(addressKey('192.0.2.1:8080')).toBe('192.0.2.1:8080');
    expect(addressKey('::ffff:192.0.2.1:8080')).toBe('::ffff:192.0.2.1:8080');
  });
});

describe('concurrency limiter', () => {
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

  it('never runs more than max at once and queues the rest', async () => {
    const limit = createConcurrencyLimiter({ max: 2, maxQueue: 10 });
    let running = 0;
    let peak = 0;
    const job = async () => {
      running++;
      peak = Math.max(peak, running);
      await sleep(20);
      running--;
      return 1;
    };
    const out = await Promise.all(Array.from({ length: 8 }, () => limit.run(job)));
    expect(out).toHaveLength(8);
    expect(peak).toBe(2);
    expect(limit.active).toBe(0);
  });

  it('refuses with "busy" when the queue is full', async () => {
    const limit = createConcurrencyLimiter({ max: 1, maxQueue: 1 });
    const results = await Promise.allSettled([1, 2, 3].map(() => limit.run(() => sleep(30))));
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'rejected']);
    const reason = (results[2] as PromiseRejectedResult).reason;
    expect(isImageSearchError(reason) && reason.code).toBe('busy');
  });

  it('refuses with "busy" when waiting too long, and keeps working afterwards', async () => {
    const limit = createConcurrencyLimiter({ max: 1, maxQueue: 5, maxWaitMs: 30 });
    const results = await Promise.allSettled([limit.run(() => sleep(100)), limit.run(() => sleep(1))]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected']);
    expect(limit.queued).toBe(0);
    expect(await limit.run(async () => 'ok')).toBe('ok');
  });

  it('a failing job frees its slot', async () => {
    const limit = createConcurrencyLimiter({ max: 1 });
    await expect(limit.run(() => Promise.reject(new Error('x')))).rejects.toThrow('x');
    expect(await limit.run(async () => 2)).toBe(2);
  });
});

import { describe, expect, it } from 'vitest';
import { isImageSearchError } from '../../src/core/errors.ts';
import { createRateLimiter } from '../../src/state/rate-limit.ts';
import { createConcurrencyLimiter } from '../../src/util/locks.ts';

describe('rate limiter (token bucket per user)', () => {
  it('allows a burst of perMinute, then refills continuously', () => {
    let t = 0;
    const rl = createRateLimiter({ perMinute: 3, now: () => t });
    expect([rl.take('u'), rl.take('u'), rl.take('u')].every((d) => d.ok)).toBe(true);
    const refused = rl.take('u');
    expect(refused).toEqual({ ok: false, retryAfterMs: 20_000 });
    expect(rl.take('other').ok).toBe(true);
    t = 19_000;
    expect(rl.take('u').ok).toBe(false);
    t = 20_000;
    expect(rl.take('u').ok).toBe(true);
    expect(rl.take('u').ok).toBe(false);
  });

  it('forgets idle users once the map grows', () => {
    let t = 0;
    const rl = createRateLimiter({ perMinute: 1, now: () => t, maxUsers: 2 });
    rl.take('a');
    rl.take('b');
    rl.take('c');
    t = 120_000;
    expect(rl.take('d').ok).toBe(true);
    expect(rl.take('a').ok).toBe(true);
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

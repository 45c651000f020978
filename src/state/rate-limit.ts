/**
 * Per-user token bucket, in process.
 *
 * Each user has a bucket of `perMinute` tokens that refills continuously at `perMinute / 60` tokens a
 * second; a search takes one. Bursts up to `perMinute` are allowed, sustained use is capped at the
 * rate. The buckets live in this process only: with N replicas behind a load balancer a user gets up
 * to N× the rate, which is acceptable for abuse protection (the limit is about cost, not billing).
 * A shared limit would need an atomic counter in Redis.
 */
export interface RateLimiter {
  /** Takes one token for `userId`. */
  take(userId: string): RateDecision;
}

/** The outcome of {@link RateLimiter.take}: allowed, or how long until the next token. */
export type RateDecision = { ok: true } | { ok: false; retryAfterMs: number };

export interface RateLimiterOptions {
  /** RATE_LIMIT_PER_MINUTE. */
  perMinute: number;
  /** Injected clock (tests). */
  now?: () => number;
  /** Buckets kept before idle (full) ones are swept. */
  maxUsers?: number;
}

export function createRateLimiter(opts: RateLimiterOptions): RateLimiter {
  const capacity = opts.perMinute;
  const perMs = opts.perMinute / 60_000;
  const now = opts.now ?? Date.now;
  const maxUsers = opts.maxUsers ?? 10_000;
  const buckets = new Map<string, { tokens: number; at: number }>();

  const sweep = (t: number) => {
    // A bucket that has refilled to capacity carries no information: forget it.
    for (const [user, b] of buckets) {
      if (b.tokens + (t - b.at) * perMs >= capacity) buckets.delete(user);
    }
  };

  return {
    take(userId) {
      const t = now();
      if (buckets.size > maxUsers) sweep(t);
      const b = buckets.get(userId) ?? { tokens: capacity, at: t };
      b.tokens = Math.min(capacity, b.tokens + (t - b.at) * perMs);
      b.at = t;
      buckets.set(userId, b);
      if (b.tokens >= 1) {
        b.tokens -= 1;
        return { ok: true };
      }
      return { ok: false, retryAfterMs: Math.ceil((1 - b.tokens) / perMs) };
    },
  };
}

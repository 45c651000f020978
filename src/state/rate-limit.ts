/**
 * Rate limits: token buckets by key, and the limiter the conversation engine charges per search.
 *
 * The buckets follow GCRA (the generic cell rate algorithm): a bucket of `perMinute` tokens that
 * refills continuously is one number per key, the "theoretical arrival time" (TAT) of the next
 * request at the steady rate. That makes one take a single read-modify-write of one value, which a
 * shared store can do atomically (a Lua script in Redis, one UPSERT in SQLite: ./redis-atomic.ts,
 * ./sqlite-atomic.ts), and a bucket that has refilled is simply a key that expired.
 */
import { isIPv4, isIPv6 } from 'node:net';
import { LRUCache } from 'lru-cache';
import type { RateBuckets, RateDecision } from '../core/types.ts';

export type { RateDecision } from '../core/types.ts';

/** A minute of refill: the longest a bucket is ahead of "now" when full-up spent. */
const WINDOW_MS = 60_000;
/** Floating-point slack, so 7 takes of 60000/7 ms each still fit a 60000 ms burst. */
const EPSILON_MS = 1;

/** One GCRA step: the new TAT and how long until the bucket is full again (its time to live), or a refusal. */
export type GcraStep = { ok: true; tat: number; ttlMs: number } | { ok: false; retryAfterMs: number };

/**
 * Takes one token from a bucket whose TAT is `tat` (undefined: a full bucket). Pure, so the memory
 * buckets, the SQLite statement and the Redis script can be checked against the same arithmetic.
 */
export function gcraStep(tat: number | undefined, now: number, perMinute: number): GcraStep {
  const interval = WINDOW_MS / perMinute;
  const next = Math.max(tat ?? now, now) + interval;
  const ahead = next - now;
  if (ahead > WINDOW_MS + EPSILON_MS) return { ok: false, retryAfterMs: Math.ceil(ahead - WINDOW_MS) };
  return { ok: true, tat: next, ttlMs: Math.ceil(ahead) };
}

export interface MemoryBucketsOptions {
  /** Buckets kept at most; beyond it the least recently used go first (their users start full). */
  maxKeys?: number;
  /** Injected clock (tests). */
  now?: () => number;
}

/**
 * In-process buckets: the default for one process, and every replica's fallback while a shared store
 * is down. A bucket is dropped as soon as it has refilled (its TTL), since a full bucket carries no
 * information; `size` says how many are held, so that eviction is observable.
 */
export class MemoryBuckets implements RateBuckets {
  readonly #tats: LRUCache<string, number>;
  readonly #now: () => number;

  constructor(opts: MemoryBucketsOptions = {}) {
    this.#now = opts.now ?? Date.now;
    const now = opts.now;
    this.#tats = new LRUCache<string, number>({
      max: opts.maxKeys ?? 10_000,
      // lru-cache reads a start time of 0 as "no TTL", so an injected clock is shifted off zero;
      // ttlResolution 0 reads the clock on every check rather than caching it for a millisecond.
      ...(now ? { perf: { now: () => now() + 1 }, ttlResolution: 0 } : {}),
    });
  }

  /** Buckets held now (refilled ones are dropped first). */
  get size(): number {
    this.#tats.purgeStale();
    return this.#tats.size;
  }

  async take(key: string, perMinute: number): Promise<RateDecision> {
    const step = gcraStep(this.#tats.get(key), this.#now(), perMinute);
    if (!step.ok) return step;
    this.#tats.set(key, step.tat, { ttl: step.ttlMs });
    return { ok: true };
  }
}

/** The limits a search is charged against. */
export interface RateLimits {
  /** RATE_LIMIT_PER_MINUTE: searches per user. */
  perUser: number;
  /** RATE_LIMIT_PER_ADDRESS_PER_MINUTE: searches per client address (web chat), whoever the user claims to be. */
  perAddress: number;
}

/** Who a search is charged to. */
export interface RateSubject {
  userId: string;
  clientAddress?: string | undefined;
}

/**
 * The bucket key of a client address. IPv6 clients are grouped by their /64: one host usually holds
 * a whole /64, so counting single addresses would let it rotate through 2^64 fresh buckets.
 */
export function addressKey(address: string): string {
  const bare = address.replace(/%.*$/, '').toLowerCase();
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(bare);
  if (mapped?.[1]) return mapped[1];
  if (isIPv4(bare) || !isIPv6(bare)) return bare;
  const [head = '', tail] = bare.split('::');
  const groups = (part: string) =>
    (part === '' ? [] : part.split(':')).flatMap((g) => (g.includes('.') ? ['0', '0'] : [g]));
  let full = groups(head);
  if (tail !== undefined) {
    const t = groups(tail);
    full = [...full, ...Array<string>(8 - full.length - t.length).fill('0'), ...t];
  }
  return `${full
    .slice(0, 4)
    .map((g) => Number.parseInt(g, 16).toString(16))
    .join(':')}::/64`;
}

/**
 * Charges one search: the client address's bucket first (so a client that drops its session cookie
 * to pose as a new user each time still runs dry), then the user's. A refusal by the address bucket
 * costs the user nothing; a refusal by the user's bucket still spends the address token, since that
 * client did send the request.
 */
export class RateLimiter {
  readonly #buckets: RateBuckets;
  readonly #limits: RateLimits;

  constructor(buckets: RateBuckets, limits: RateLimits) {
    this.#buckets = buckets;
    this.#limits = limits;
  }

  async take(subject: RateSubject): Promise<RateDecision> {
    if (subject.clientAddress) {
      const byAddress = await this.#buckets.take(
        `addr:${addressKey(subject.clientAddress)}`,
        this.#limits.perAddress,
      );
      if (!byAddress.ok) return byAddress;
    }
    return this.#buckets.take(`user:${subject.userId}`, this.#limits.perUser);
  }
}

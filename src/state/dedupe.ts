/**
 * The in-process {@link Dedupe}: one lru-cache of claimed keys, each with its own time to live.
 * The state store's dedupe (./state-store.ts) keeps every claim here too, in front of the shared
 * backend (Redis `SET NX PX`, a SQLite UPSERT: ./redis-atomic.ts, ./sqlite-atomic.ts), so a repeat
 * reaching the same process is caught even while that backend is down. Alone, it is the default of
 * components built without a store (tests, tools).
 */
import { LRUCache } from 'lru-cache';
import type { Dedupe } from '../core/types.ts';

export interface MemoryDedupeOptions {
  /** Keys remembered at most; the least recently claimed are forgotten first. Default 50,000. */
  maxKeys?: number;
  /** Injected clock in ms (tests). */
  now?: () => number;
}

export class MemoryDedupe implements Dedupe {
  readonly #claimed: LRUCache<string, true>;

  constructor(opts: MemoryDedupeOptions = {}) {
    const now = opts.now;
    this.#claimed = new LRUCache<string, true>({
      max: opts.maxKeys ?? 50_000,
      // lru-cache reads a start time of 0 as "no TTL", so an injected clock is shifted off zero;
      // ttlResolution 0 reads the clock on every check rather than caching it for a millisecond.
      ...(now ? { perf: { now: () => now() + 1 }, ttlResolution: 0 } : {}),
    });
  }

  /** Keys remembered now (diagnostics, tests). */
  get size(): number {
    return this.#claimed.size;
  }

  async claim(key: string, ttlMs: number): Promise<boolean> {
    if (this.#claimed.has(key)) return false;
    this.#claimed.set(key, true, { ttl: ttlMs });
    return true;
  }
}

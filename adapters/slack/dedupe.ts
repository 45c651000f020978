/**
 * Exactly-once delivery. Slack re-sends an event when it did not see a 200 within 3 s
 * (`X-Slack-Retry-Num`), and the same user message can arrive twice as `app_mention` and as `message`.
 * Both must produce one answer.
 */

/** Remembers keys for a while. In memory: a restart forgets, which at worst answers a retry once more. */
export class TtlDedupe {
  readonly #seen = new Map<string, number>();
  readonly #ttlMs: number;
  readonly #maxKeys: number;
  readonly #now: () => number;

  constructor(opts: { ttlMs?: number; maxKeys?: number; now?: () => number } = {}) {
    // Slack retries three times over about five minutes; keep keys comfortably longer than that.
    this.#ttlMs = opts.ttlMs ?? 15 * 60_000;
    this.#maxKeys = opts.maxKeys ?? 50_000;
    this.#now = opts.now ?? Date.now;
  }

  /** Returns true the first time `key` is seen within the TTL, false for every repeat. */
  firstSeen(key: string): boolean {
    const now = this.#now();
    const expires = this.#seen.get(key);
    if (expires !== undefined && expires > now) return false;
    this.#seen.set(key, now + this.#ttlMs);
    this.#prune(now);
    return true;
  }

  has(key: string): boolean {
    const expires = this.#seen.get(key);
    return expires !== undefined && expires > this.#now();
  }

  get size(): number {
    return this.#seen.size;
  }

  #prune(now: number): void {
    if (this.#seen.size <= this.#maxKeys) return;
    // Map keeps insertion order, so the oldest entries come first.
    for (const [key, expires] of this.#seen) {
      if (this.#seen.size <= this.#maxKeys && expires > now) break;
      this.#seen.delete(key);
    }
  }
}

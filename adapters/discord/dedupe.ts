/**
 * "Have I answered this delivery already?" Discord can deliver the same MESSAGE_CREATE or
 * INTERACTION_CREATE twice (replay after a resume, a reconnect racing a dispatch). Each answer must
 * go out once, so ids are remembered for a while. In-memory is enough: a guild's events always go to
 * the one shard (and process) that owns it.
 */
export class TtlDedupe {
  readonly #seen = new Map<string, number>();
  readonly #ttlMs: number;
  readonly #max: number;
  readonly #now: () => number;

  /**
   * @param ttlMs how long an id is remembered (Discord replays within minutes; default 15 min, the
   *   lifetime of an interaction token)
   * @param max upper bound on remembered ids; the oldest are forgotten first
   */
  constructor(ttlMs = 15 * 60_000, max = 50_000, now: () => number = Date.now) {
    this.#ttlMs = ttlMs;
    this.#max = max;
    this.#now = now;
  }

  /** Records `id`; true the first time it is seen within the TTL, false for a repeat. */
  firstSeen(id: string): boolean {
    const now = this.#now();
    this.#sweep(now);
    const expires = this.#seen.get(id);
    if (expires !== undefined && expires > now) return false;
    this.#seen.delete(id);
    this.#seen.set(id, now + this.#ttlMs);
    while (this.#seen.size > this.#max) {
      const oldest = this.#seen.keys().next();
      if (oldest.done) break;
      this.#seen.delete(oldest.value);
    }
    return true;
  }

  get size(): number {
    return this.#seen.size;
  }

  /** Map keeps insertion order and every entry has the same TTL, so expired ids sit at the front. */
  #sweep(now: number): void {
    for (const [id, expires] of this.#seen) {
      if (expires > now) break;
      this.#seen.delete(id);
    }
  }
}

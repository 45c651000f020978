/**
 * Threads that hold our results: an un-mentioned reply there is a refinement. The registry lives in
 * the state store (shared by replicas when it is Redis), so a thread reply that reaches another
 * replica than the one that answered is still recognised; each replica also remembers the threads
 * it has seen, which keeps them recognised while the store is down.
 */
import { LRUCache } from 'lru-cache';
import type { StateStore } from '../../src/core/types.ts';

export interface ThreadRegistryOptions {
  /** The state store; without one the registry is this process's alone. */
  state?: StateStore | undefined;
  /** How long a thread stays ours: as long as its conversation is remembered (STATE_TTL_DAYS). */
  ttlMs: number;
  /** Threads remembered in process. Default 100,000. */
  maxLocal?: number;
}

const threadKey = (channel: string, threadTs: string) => `slack:thread:${channel}:${threadTs}`;

export class ThreadRegistry {
  readonly #state: StateStore | undefined;
  readonly #ttlMs: number;
  readonly #local: LRUCache<string, true>;

  constructor(opts: ThreadRegistryOptions) {
    this.#state = opts.state;
    this.#ttlMs = opts.ttlMs;
    this.#local = new LRUCache<string, true>({ max: opts.maxLocal ?? 100_000, ttl: opts.ttlMs });
  }

  /** Records a result thread; resolves once the store has it (or has failed to: then it is ours here only). */
  async add(channel: string, threadTs: string): Promise<void> {
    const key = threadKey(channel, threadTs);
    this.#local.set(key, true);
    await this.#state?.set(key, 1, this.#ttlMs).catch(() => undefined);
  }

  /** True when any replica recorded the thread (a store that cannot answer counts as "not known"). */
  async has(channel: string, threadTs: string): Promise<boolean> {
    const key = threadKey(channel, threadTs);
    if (this.#local.has(key)) return true;
    const stored = await this.#state?.get(key).catch(() => undefined);
    if (stored === undefined) return false;
    this.#local.set(key, true);
    return true;
  }
}

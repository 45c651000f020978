/**
 * What the web chat keeps for browsers that never came back. Every cookie-less request gets a new
 * session, and the engine stored each one's conversation for STATE_TTL_DAYS (7 days, ~11 KB each):
 * one script could grow the store without bound for a week and, under a Redis `volatile-*` maxmemory
 * policy, push out real users' conversations. So, for a session issued by this very request:
 *
 * - nothing is kept unless the answer gave it something to continue (results);
 * - what is kept lives `ttlMs` (default 1 hour), not days: the browser's next message, which comes
 *   back with the cookie, is an ordinary turn and the engine stores it for the full TTL again;
 * - at most `perAddressPerHour` such conversations are kept per client address (per replica).
 *
 * A session that is not kept answers its follow-ups "that conversation has expired", as after a TTL.
 */
import { LRUCache } from 'lru-cache';
import type { BotReply } from '../../src/core/types.ts';
import type { Logger } from '../../src/util/logger.ts';

/** Limits of {@link AnonymousConversations}. Defaults in {@link ANONYMOUS_DEFAULTS}. */
export interface AnonymousLimits {
  /** Time to live of a first conversation until its browser comes back. */
  ttlMs: number;
  /** First conversations kept per client address per hour (per replica). */
  perAddressPerHour: number;
}

export const ANONYMOUS_DEFAULTS = {
  ttlMs: 60 * 60 * 1000,
  perAddressPerHour: 30,
} as const satisfies AnonymousLimits;

const HOUR_MS = 60 * 60 * 1000;

export class AnonymousConversations {
  readonly #limits: AnonymousLimits;
  readonly #log: Logger;
  readonly #perAddress = new LRUCache<string, number>({ max: 50_000, ttl: HOUR_MS });

  constructor(limits: AnonymousLimits, log: Logger) {
    this.#limits = limits;
    this.#log = log;
  }

  /**
   * Before the engine runs the first request of a new session: how long its conversation may be kept
   * (`retainMs` of the request), 0 once this address has had its share this hour. Deciding up front
   * lets the engine save it once with the right TTL instead of re-reading and re-writing it after.
   */
  retention(address: string | undefined): number {
    const count = this.#perAddress.get(address ?? 'unknown') ?? 0;
    if (count < this.#limits.perAddressPerHour) return this.#limits.ttlMs;
    if (count === this.#limits.perAddressPerHour) {
      this.#perAddress.set(address ?? 'unknown', count + 1, { noUpdateTTL: true });
      this.#log.info(
        { address: address ?? 'unknown' },
        'new web sessions from this address are no longer remembered this hour',
      );
    }
    return 0;
  }

  /** After the engine answered it: a conversation with results counts against the address's share. */
  settle(address: string | undefined, retainMs: number, reply: BotReply): void {
    if (reply.kind !== 'results' || retainMs <= 0) return;
    const client = address ?? 'unknown';
    const count = (this.#perAddress.get(client) ?? 0) + 1;
    // Only a new count restarts the hour: the window runs from this address's first conversation.
    this.#perAddress.set(client, count, count === 1 ? {} : { noUpdateTTL: true });
  }
}

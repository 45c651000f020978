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
import { conversationKey } from '../../src/conversation/conversation-state.ts';
import type { BotReply, StateStore } from '../../src/core/types.ts';
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
  readonly #state: StateStore | undefined;
  readonly #limits: AnonymousLimits;
  readonly #log: Logger;
  readonly #perAddress = new LRUCache<string, number>({ max: 50_000, ttl: HOUR_MS });

  constructor(state: StateStore | undefined, limits: AnonymousLimits, log: Logger) {
    this.#state = state;
    this.#limits = limits;
    this.#log = log;
  }

  /**
   * After the engine answered the first request of a new session: keep its conversation briefly,
   * or not at all. Never throws (the state store does not).
   */
  async settle(conversationId: string, address: string | undefined, reply: BotReply): Promise<void> {
    const state = this.#state;
    if (!state) return;
    const key = conversationKey(conversationId);
    if (reply.kind !== 'results') {
      await state.delete(key);
      return;
    }
    const client = address ?? 'unknown';
    const count = (this.#perAddress.get(client) ?? 0) + 1;
    // Only a new count restarts the hour: the window runs from this address's first conversation.
    this.#perAddress.set(client, count, count === 1 ? {} : { noUpdateTTL: true });
    if (count > this.#limits.perAddressPerHour) {
      if (count === this.#limits.perAddressPerHour + 1)
        this.#log.info(
          { address: client },
          'new web sessions from this address are no longer remembered this hour',
        );
      await state.delete(key);
      return;
    }
    const value = await state.get(key);
    if (value !== undefined) await state.set(key, value, this.#limits.ttlMs);
  }
}

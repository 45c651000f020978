/**
 * The engine's idempotency guard: `handle` runs once per `request.requestId`.
 *
 * - A repeat that reaches this process while the first is running, or within 10 minutes after,
 *   gets the SAME reply object: no new search, no state change (in-flight map + an lru-cache of
 *   recent replies; replies hold grid images, so the cache is small).
 * - A repeat that reaches another replica is caught by {@link IdempotencyGuard.claim}: the shared
 *   {@link Dedupe} (the one every adapter also uses) plus the `req:<id>` marker in the state store,
 *   checked under the conversation lock, so two replicas sharing Redis cannot both win.
 */
import { LRUCache } from 'lru-cache';
import type { BotReply, Dedupe, SearchRequest, StateStore } from '../core/types.ts';
import { requestKey } from './conversation-state.ts';

/** Duplicate markers and remembered replies live this long (Slack retries within minutes). */
export const DEDUPE_TTL_MS = 10 * 60_000;

export interface IdempotencyGuardOptions {
  dedupe: Dedupe;
  state: StateStore;
  now: () => number;
  /** Replies remembered in process. Default 64. */
  maxReplies?: number;
}

export class IdempotencyGuard {
  readonly #o: IdempotencyGuardOptions;
  readonly #inflight = new Map<string, Promise<BotReply>>();
  readonly #replies: LRUCache<string, BotReply>;

  constructor(opts: IdempotencyGuardOptions) {
    this.#o = opts;
    this.#replies = new LRUCache<string, BotReply>({ max: opts.maxReplies ?? 64, ttl: DEDUPE_TTL_MS });
  }

  /** Runs `work` once per request id in this process; repeats share its reply. */
  async once(requestId: string | undefined, work: () => Promise<BotReply>): Promise<BotReply> {
    if (!requestId) return work();
    const known = this.#replies.get(requestId) ?? this.#inflight.get(requestId);
    if (known) return known;
    const pending = work();
    this.#inflight.set(requestId, pending);
    try {
      const reply = await pending;
      this.#replies.set(requestId, reply);
      return reply;
    } finally {
      this.#inflight.delete(requestId);
    }
  }

  /**
   * True when this request is the first with its id anywhere: call it under the conversation lock.
   * Requests without an id always pass.
   */
  async claim(request: SearchRequest): Promise<boolean> {
    const id = request.requestId;
    if (!id) return true;
    const key = requestKey(id);
    if (!(await this.#o.dedupe.claim(key, DEDUPE_TTL_MS))) return false;
    const { state, now } = this.#o;
    if ((await state.get(key)) !== undefined) return false;
    await state.set(key, { at: now(), conversationId: request.conversationId }, DEDUPE_TTL_MS);
    return true;
  }
}

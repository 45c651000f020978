/**
 * The engine's idempotency guard: a request is answered once per idempotency key, which is the
 * platform, the conversation AND the request id. Request ids alone are not enough: the web chat's
 * are chosen by the client, so two browser sessions could send the same one, and keyed on the id
 * alone the second would receive the first's reply (its query and its grid).
 *
 * - A repeat that reaches this process while the first is running, or within 10 minutes after,
 *   gets the SAME reply object: no new search, no state change (in-flight map + an lru-cache of
 *   recent replies; replies hold grid images, so the cache is small).
 * - A repeat that reaches another replica loses {@link IdempotencyGuard.claim} (the shared
 *   {@link Dedupe}, atomic across replicas) and, under the conversation lock the first holds while
 *   it answers, finds the first reply in the state store when replies are shared (Redis); otherwise
 *   it is told "already on it".
 */
import { LRUCache } from 'lru-cache';
import type { BotReply, Dedupe, SearchRequest, StateStore } from '../core/types.ts';

/** Duplicate markers and remembered replies live this long (Slack retries within minutes). */
export const DEDUPE_TTL_MS = 10 * 60_000;

export interface IdempotencyGuardOptions {
  dedupe: Dedupe;
  state: StateStore;
  /**
   * Write every reply to the state store, so a repeat that reaches another replica gets the same
   * answer. On when the store is shared by replicas (Redis); the replies carry their grid bytes.
   */
  shareReplies?: boolean;
  /** Replies remembered in process. Default 64. */
  maxReplies?: number;
}

/** What {@link IdempotencyGuard.claim} found: the first delivery, or a repeat (with the first reply when known). */
export type Claim = { first: true } | { first: false; reply: BotReply | undefined };

/**
 * The idempotency key of a request, or undefined when it carries no request id. Conversation ids are
 * platform-prefixed already; the platform is named again so no other id scheme can ever collide.
 */
export function idempotencyKey(request: SearchRequest): string | undefined {
  if (!request.requestId) return undefined;
  return `${request.platform}|${request.conversationId}|${request.requestId}`;
}

const claimKey = (key: string) => `req:${key}`;
const replyKey = (key: string) => `reply:${key}`;

function isBotReply(value: unknown): value is BotReply {
  if (typeof value !== 'object' || value === null) return false;
  const { kind, text } = value as { kind?: unknown; text?: unknown };
  return (kind === 'results' || kind === 'open' || kind === 'notice') && typeof text === 'string';
}

export class IdempotencyGuard {
  readonly #o: IdempotencyGuardOptions;
  readonly #inflight = new Map<string, Promise<BotReply>>();
  readonly #replies: LRUCache<string, BotReply>;

  constructor(opts: IdempotencyGuardOptions) {
    this.#o = opts;
    this.#replies = new LRUCache<string, BotReply>({ max: opts.maxReplies ?? 64, ttl: DEDUPE_TTL_MS });
  }

  /** Runs `work` once per idempotency key in this process; repeats share its reply. */
  async once(request: SearchRequest, work: () => Promise<BotReply>): Promise<BotReply> {
    const key = idempotencyKey(request);
    if (!key) return work();
    const known = this.#replies.get(key) ?? this.#inflight.get(key);
    if (known) return known;
    const pending = work();
    this.#inflight.set(key, pending);
    try {
      const reply = await pending;
      this.#replies.set(key, reply);
      return reply;
    } finally {
      this.#inflight.delete(key);
    }
  }

  /**
   * Whether this is the first delivery of the request anywhere; call it under the conversation lock.
   * Requests without an id are always first.
   */
  async claim(request: SearchRequest): Promise<Claim> {
    const key = idempotencyKey(request);
    if (!key) return { first: true };
    if (await this.#o.dedupe.claim(claimKey(key), DEDUPE_TTL_MS)) return { first: true };
    if (!this.#o.shareReplies) return { first: false, reply: undefined };
    const stored = await this.#o.state.get(replyKey(key));
    return { first: false, reply: isBotReply(stored) ? stored : undefined };
  }

  /** Records the first delivery's reply for repeats on other replicas; call it before the lock is released. */
  async remember(request: SearchRequest, reply: BotReply): Promise<void> {
    const key = idempotencyKey(request);
    if (!key || !this.#o.shareReplies) return;
    await this.#o.state.set(replyKey(key), reply, DEDUPE_TTL_MS);
  }
}

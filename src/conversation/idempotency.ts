/**
 * Answer once per delivery: the one idempotency guard, used by the request flow every adapter runs
 * (adapters/kit/request-flow.ts). A delivery is named by its platform and the platform's own id for
 * it (Slack `event:Ev1`, Discord `interaction:123`, the web chat `<session>:<request id>`: the web
 * chat's ids are chosen by the client, so it scopes them by session; two browsers sending the same
 * id are two deliveries). One key scheme: `req:<platform>|<delivery id>` in the shared
 * {@link Dedupe}, claimed once per delivery, before anything is posted.
 *
 * - Platforms that post their answers (Slack, Discord) drop a repeat: the first delivery answers.
 * - The web chat answers every request in its HTTP response, so a repeat is given the first reply:
 *   in this process while the first runs or within 15 minutes after (in-flight map + an lru-cache
 *   of recent replies; replies hold grid images, so the cache is small); on another replica from
 *   the state store when replies are shared (Redis), else it is told "already on it".
 */
import { LRUCache } from 'lru-cache';
import type { BotReply, Dedupe, StateStore } from '../core/types.ts';
import { MSG } from './messages.ts';

/**
 * Duplicate markers and remembered replies live this long: Slack retries for about five minutes,
 * Discord replays within minutes (an interaction token lives 15).
 */
export const DEDUPE_TTL_MS = 15 * 60_000;

/** One delivery: its platform and the platform's id for it (undefined: never deduped). */
export interface DeliveryRef {
  platform: string;
  deliveryId: string | undefined;
}

export interface IdempotencyGuardOptions {
  dedupe: Dedupe;
  /** Where shared replies are kept; needed only with `shareReplies`. */
  state?: StateStore | undefined;
  /**
   * Write every reply to the state store, so a repeat that reaches another replica gets the same
   * answer. On when the store is shared by replicas (Redis); the replies carry their grid bytes.
   */
  shareReplies?: boolean | undefined;
  /** Replies remembered in process. Default 64. */
  maxReplies?: number;
}

/** What {@link IdempotencyGuard.claim} found: the first delivery, or a repeat (with the first reply when known). */
export type Claim = { first: true } | { first: false; reply: BotReply | undefined };

/** The idempotency key of a delivery, or undefined when it carries no id. */
export function idempotencyKey(ref: DeliveryRef): string | undefined {
  if (!ref.deliveryId) return undefined;
  return `${ref.platform}|${ref.deliveryId}`;
}

/** What a repeat is told when the first reply is not known here: the first delivery answers. */
export const DUPLICATE_NOTICE: BotReply = {
  kind: 'notice',
  text: MSG.duplicate,
  level: 'info',
  ephemeral: true,
};

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
  async once(ref: DeliveryRef, work: () => Promise<BotReply>): Promise<BotReply> {
    const key = idempotencyKey(ref);
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
   * Whether this is the first delivery anywhere (one claim in the shared dedupe); a repeat comes
   * with the first reply when replies are shared and it is stored. Deliveries without an id are
   * always first.
   */
  async claim(ref: DeliveryRef): Promise<Claim> {
    const key = idempotencyKey(ref);
    if (!key) return { first: true };
    if (await this.#o.dedupe.claim(claimKey(key), DEDUPE_TTL_MS)) return { first: true };
    if (!this.#o.shareReplies || !this.#o.state) return { first: false, reply: undefined };
    const stored = await this.#o.state.get(replyKey(key));
    return { first: false, reply: isBotReply(stored) ? stored : undefined };
  }

  /** Records the first delivery's reply for repeats on other replicas (only when replies are shared). */
  async remember(ref: DeliveryRef, reply: BotReply): Promise<void> {
    const key = idempotencyKey(ref);
    if (!key || !this.#o.shareReplies || !this.#o.state) return;
    await this.#o.state.set(replyKey(key), reply, DEDUPE_TTL_MS);
  }
}

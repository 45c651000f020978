import type { BotReply } from '../core/types.ts';

/**
 * Recent replies by request id, so a redelivered request (Slack retry, double click) gets the SAME
 * reply without running the search again. In process and small: replies hold grid images.
 */
export class ReplyCache {
  readonly #entries = new Map<string, { reply: BotReply; at: number }>();
  readonly #max: number;
  readonly #ttlMs: number;

  constructor(max = 64, ttlMs = 10 * 60_000) {
    this.#max = max;
    this.#ttlMs = ttlMs;
  }

  get(requestId: string, now = Date.now()): BotReply | undefined {
    const hit = this.#entries.get(requestId);
    if (!hit) return undefined;
    if (now - hit.at > this.#ttlMs) {
      this.#entries.delete(requestId);
      return undefined;
    }
    return hit.reply;
  }

  set(requestId: string, reply: BotReply, now = Date.now()): void {
    this.#entries.delete(requestId);
    this.#entries.set(requestId, { reply, at: now });
    // Map keeps insertion order: the first key is the oldest.
    while (this.#entries.size > this.#max) {
      const oldest = this.#entries.keys().next().value;
      if (oldest === undefined) break;
      this.#entries.delete(oldest);
    }
  }
}

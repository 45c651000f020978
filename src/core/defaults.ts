/**
 * The user-visible defaults that more than one layer needs, written once. The configuration schema
 * (src/util/config.ts) applies them to unset variables; code that runs without a Config (tests, the
 * CLI's helpers, library callers) falls back to the same values. test/core/defaults.test.ts pins each
 * as a literal with the reason for it.
 */
export const DEFAULTS = {
  /** IMAGESEARCH_MIN_SCORE: CLIP cosine below which a photo is never shown (the junk floor). */
  minScore: 0.15,
  /** IMAGESEARCH_NEAR_DUPLICATE: cosine at or above which two photos never share a grid. */
  nearDuplicateCosine: 0.98,
  /** Photos in one answer: one numbered 2×2 grid. */
  perGrid: 4,
  /** RATE_LIMIT_PER_ADDRESS_PER_MINUTE = ceil(this × RATE_LIMIT_PER_MINUTE) when unset. */
  perAddressRateFactor: 1.5,
  /** STATE_TTL_DAYS: how long a conversation (and its Slack thread) is remembered. */
  stateTtlDays: 7,
} as const;

/** {@link DEFAULTS.stateTtlDays} in milliseconds. */
export const DEFAULT_STATE_TTL_MS = DEFAULTS.stateTtlDays * 24 * 3600 * 1000;

/** The per-address limit when none is configured: 1.5 × the per-user limit, rounded up. */
export function defaultPerAddressLimit(perUserPerMinute: number): number {
  return Math.ceil(perUserPerMinute * DEFAULTS.perAddressRateFactor);
}

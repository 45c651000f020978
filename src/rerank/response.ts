/**
 * Reading what Gemini sends back: errors into machine-readable fallback reasons, responses into
 * validated picks, token counts into an estimated cost. Nothing here trusts the model's output.
 */
import { ApiError, type GenerateContentResponse } from '@google/genai';
import { z } from 'zod';
import type { RerankUsage } from '../core/types.ts';
import { cleanQuery } from '../util/query-text.ts';
import { MAX_REASON_CHARS } from './prompt.ts';

/**
 * Why a Gemini call was skipped or its answer not used; the caller shows CLIP's order instead.
 * Stable strings: they appear in `SearchReply.fallbackReason`, logs and metrics labels.
 */
export type GeminiFallbackReason =
  | 'no_api_key'
  | 'no_candidates'
  | 'empty_input'
  | 'too_few_candidates'
  | 'no_thumbnails'
  | 'prompt_injection'
  | 'timeout'
  | 'aborted'
  | 'rate_limited'
  | 'server_error'
  | 'auth_failed'
  | 'model_not_found'
  | 'bad_request'
  | 'network_error'
  | 'safety_block'
  | 'empty_response'
  | 'malformed_response'
  | 'invalid_indices';

/** USD per one million tokens. Output includes thinking tokens, as Google bills them. */
export interface GeminiPrice {
  inputPerMTok: number;
  outputPerMTok: number;
}

/**
 * Paid-tier list prices (ai.google.dev/pricing, standard tier, text/image/video input, prompts
 * ≤ 200K tokens) as of 2025. Only used to estimate cost in logs; override via the constructor's
 * `prices` option when Google changes them or for models not listed.
 */
export const DEFAULT_GEMINI_PRICES: Readonly<Record<string, GeminiPrice>> = {
  'gemini-2.5-flash': { inputPerMTok: 0.3, outputPerMTok: 2.5 },
  'gemini-2.5-flash-lite': { inputPerMTok: 0.1, outputPerMTok: 0.4 },
  'gemini-2.0-flash': { inputPerMTok: 0.1, outputPerMTok: 0.4 },
  'gemini-2.0-flash-lite': { inputPerMTok: 0.075, outputPerMTok: 0.3 },
  'gemini-2.5-pro': { inputPerMTok: 1.25, outputPerMTok: 10 },
};

/** Maps anything the SDK threw into a fallback reason. `ApiError.message` is never logged: Google echoes request details (parts of the API key included) in error bodies. */
export function classifyError(e: unknown): { reason: GeminiFallbackReason; httpStatus?: number } {
  if (e instanceof ApiError) {
    const status = e.status;
    if (status === 429) return { reason: 'rate_limited', httpStatus: status };
    if (status >= 500) return { reason: 'server_error', httpStatus: status };
    if (status === 401 || status === 403 || e.message.includes('API_KEY_INVALID')) {
      return { reason: 'auth_failed', httpStatus: status };
    }
    if (status === 404) return { reason: 'model_not_found', httpStatus: status };
    return { reason: 'bad_request', httpStatus: status };
  }
  if (e instanceof Error && (e.name === 'AbortError' || e.name === 'TimeoutError'))
    return { reason: 'timeout' };
  if (e instanceof SyntaxError) return { reason: 'malformed_response' };
  return { reason: 'network_error' };
}

const BLOCKING_FINISH = new Set([
  'SAFETY',
  'BLOCKLIST',
  'PROHIBITED_CONTENT',
  'SPII',
  'IMAGE_SAFETY',
  'IMAGE_PROHIBITED_CONTENT',
  'RECITATION',
]);

/** The answer's JSON text, or the reason there is none. Thought-summary parts are skipped. */
export function responseText(
  res: GenerateContentResponse,
): { ok: true; text: string } | { ok: false; reason: GeminiFallbackReason } {
  const feedback = res.promptFeedback;
  // A blocked prompt is named by blockReason, or only by a blockReasonMessage with no candidates
  // (the recorded "only prompt feedback" answer): either way it is a block, not an empty answer.
  if (feedback?.blockReason || (feedback?.blockReasonMessage && !res.candidates?.length)) {
    return { ok: false, reason: 'safety_block' };
  }
  const candidate = res.candidates?.[0];
  if (candidate?.finishReason && BLOCKING_FINISH.has(candidate.finishReason)) {
    return { ok: false, reason: 'safety_block' };
  }
  const text = (candidate?.content?.parts ?? [])
    .filter((p) => p.thought !== true && typeof p.text === 'string')
    .map((p) => p.text)
    .join('')
    .trim();
  if (!text) return { ok: false, reason: 'empty_response' };
  return { ok: true, text };
}

function parseJson(text: string): unknown {
  try {
    // Some models wrap JSON in a Markdown fence even in JSON mode; tolerate exactly that.
    return JSON.parse(text.replace(/^```(?:json)?\s*|\s*```$/g, ''));
  } catch {
    return undefined;
  }
}

const cleanReason = z
  .string()
  .optional()
  .transform((r) =>
    (r ?? '')
      .replace(/[\p{Cc}\p{Cf}]+/gu, ' ')
      .replace(/\s+/g, ' ')
      .trim()
      .slice(0, MAX_REASON_CHARS),
  );

const picksSchema = z.object({
  picks: z.array(z.object({ index: z.number(), reason: cleanReason })).max(50),
});

/** One validated pick: a 0-based position among the candidates Gemini was shown. */
export interface ValidPick {
  position: number;
  reason: string;
}

/**
 * Validates `{picks: [{index, reason}]}` against `shown` candidates (1-based indices on the
 * wire). Any non-integer, out-of-range or repeated index, or more picks than wanted, rejects the
 * whole answer: a model that confuses numbers once is not trusted for the rest. Fewer picks
 * than wanted are accepted; the caller fills from CLIP order.
 */
export function parsePicks(
  text: string,
  shown: number,
  want: number,
): { ok: true; picks: ValidPick[] } | { ok: false; reason: GeminiFallbackReason } {
  const parsed = picksSchema.safeParse(parseJson(text));
  if (!parsed.success) return { ok: false, reason: 'malformed_response' };
  const seen = new Set<number>();
  const picks: ValidPick[] = [];
  for (const p of parsed.data.picks) {
    if (!Number.isInteger(p.index) || p.index < 1 || p.index > shown || seen.has(p.index)) {
      return { ok: false, reason: 'invalid_indices' };
    }
    seen.add(p.index);
    picks.push({ position: p.index - 1, reason: p.reason });
  }
  if (picks.length > Math.min(want, shown)) return { ok: false, reason: 'invalid_indices' };
  if (picks.length === 0) return { ok: false, reason: 'malformed_response' };
  return { ok: true, picks };
}

const rewriteSchema = z.object({ query: z.string() });

/** The rewritten query, cleaned, or undefined when the answer is unusable. */
export function parseRewrite(text: string, maxChars: number): string | undefined {
  const parsed = rewriteSchema.safeParse(parseJson(text));
  if (!parsed.success) return undefined;
  const q = cleanQuery(parsed.data.query, Number.POSITIVE_INFINITY).text;
  if (q.length === 0 || q.length > maxChars) return undefined;
  return q;
}

/** Token counts and estimated USD cost from `usageMetadata`, when the response had one. */
export function usageOf(
  res: GenerateContentResponse | undefined,
  price: GeminiPrice | undefined,
): RerankUsage | undefined {
  const u = res?.usageMetadata;
  if (!u) return undefined;
  const promptTokens = u.promptTokenCount ?? 0;
  const outputTokens = (u.candidatesTokenCount ?? 0) + (u.thoughtsTokenCount ?? 0);
  const usage: RerankUsage = {
    promptTokens,
    outputTokens,
    totalTokens: u.totalTokenCount ?? promptTokens + outputTokens,
  };
  if (price) {
    const usd = (promptTokens * price.inputPerMTok + outputTokens * price.outputPerMTok) / 1e6;
    usage.estimatedCostUsd = Math.round(usd * 1e8) / 1e8;
  }
  return usage;
}

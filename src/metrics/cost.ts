/**
 * What a request costs in Gemini tokens and dollars. Prices are per million tokens: the configured
 * ones (GEMINI_PRICE_INPUT_PER_MTOK, GEMINI_PRICE_OUTPUT_PER_MTOK), else the model's list price.
 *
 * Default prices: Google's paid-tier list prices for the Gemini API (ai.google.dev/gemini-api/docs/pricing,
 * standard tier, text/image/video input, prompts ≤ 200K tokens), as published when Gemini 2.5 Flash
 * became generally available (17 June 2025): 2.5 Flash $0.30 in, $2.50 out (thinking included).
 * This is what we knew in mid-2025 and could not re-check from here: set the two variables when
 * Google's page says otherwise, or for a model not listed (then the cost counter stays at zero).
 */
import { MAX_RERANK_CANDIDATES } from '../rerank/gemini-reranker.ts';
import { MAX_REASON_CHARS, RERANK_SYSTEM_INSTRUCTION, rerankParts, rerankSchema } from '../rerank/prompt.ts';
import { DEFAULT_GEMINI_PRICES, type GeminiPrice } from '../rerank/response.ts';

/** Where the default prices come from (shown by `doctor`). */
export const GEMINI_PRICE_SOURCE = 'ai.google.dev/gemini-api/docs/pricing, paid tier, as of June 2025';

/** The price in force and whether it was configured or the model's list price. */
export interface ResolvedGeminiPrice extends GeminiPrice {
  source: 'configured' | 'list price';
}

/**
 * The price of `model`: each configured rate overrides the list price's; undefined when a rate is
 * neither configured nor listed for the model (cost then cannot be estimated).
 */
export function geminiPrice(
  model: string,
  override: { inputPerMTok?: number | undefined; outputPerMTok?: number | undefined } = {},
): ResolvedGeminiPrice | undefined {
  const listed = DEFAULT_GEMINI_PRICES[model];
  const inputPerMTok = override.inputPerMTok ?? listed?.inputPerMTok;
  const outputPerMTok = override.outputPerMTok ?? listed?.outputPerMTok;
  if (inputPerMTok === undefined || outputPerMTok === undefined) return undefined;
  const configured = override.inputPerMTok !== undefined || override.outputPerMTok !== undefined;
  return { inputPerMTok, outputPerMTok, source: configured ? 'configured' : 'list price' };
}

/** Dollars for one call's tokens at `price`. */
export function costUsd(
  tokens: { promptTokens?: number | undefined; outputTokens?: number | undefined },
  price: GeminiPrice,
): number {
  return (
    ((tokens.promptTokens ?? 0) * price.inputPerMTok + (tokens.outputTokens ?? 0) * price.outputPerMTok) / 1e6
  );
}

/** Tokens and dollars per request, averaged over `requests` requests. */
export interface CostPerRequest {
  requests: number;
  promptTokens: number;
  outputTokens: number;
  usd: number | undefined;
}

/** Averages token totals over a number of requests and prices them (bench, doctor). */
export function costPerRequest(
  totals: { requests: number; promptTokens: number; outputTokens: number },
  price: GeminiPrice | undefined,
): CostPerRequest {
  const n = Math.max(1, totals.requests);
  const promptTokens = totals.promptTokens / n;
  const outputTokens = totals.outputTokens / n;
  return {
    requests: totals.requests,
    promptTokens,
    outputTokens,
    usd: price ? costUsd({ promptTokens, outputTokens }, price) : undefined,
  };
}

/** One line: "2850 input + 12 output tokens ≈ $0.000885 a request (list price)". */
export function describeCost(cost: CostPerRequest, price: ResolvedGeminiPrice | undefined): string {
  const tokens = `${Math.round(cost.promptTokens)} input + ${Math.round(cost.outputTokens)} output tokens`;
  if (cost.usd === undefined || !price)
    return `${tokens} (no price for this model: set GEMINI_PRICE_*_PER_MTOK)`;
  return `${tokens} ≈ $${cost.usd.toFixed(6)} a request (${price.source})`;
}

/** Gemini bills an image whose sides are both ≤ 384 px as one 258-token tile. */
const TOKENS_PER_SMALL_IMAGE = 258;

/** Picks in a grid: what the reranker asks Gemini for. */
const GRID_PICKS = 4;

/**
 * Tokens of one rerank at the current prompt, counted the way Gemini bills them: 258 per
 * thumbnail (both sides ≤ 384 px), about 4 characters a token for the instruction, the query, the
 * candidate labels and the response schema. Output: the longest answer the schema allows (4 picks
 * with a reason each), so an upper bound. `doctor` shows it; the bench measures the real thing.
 */
export function rerankTokensAtCurrentPrompt(query = 'a red bicycle leaning on a wall'): {
  promptTokens: number;
  outputTokens: number;
} {
  const thumbs = Array.from({ length: MAX_RERANK_CANDIDATES }, () => Buffer.alloc(0));
  const parts = rerankParts(query, thumbs, GRID_PICKS);
  const images = parts.filter((p) => p.inlineData).length;
  const chars =
    RERANK_SYSTEM_INSTRUCTION.length +
    parts.reduce((n, p) => n + (p.text?.length ?? 0), 0) +
    JSON.stringify(rerankSchema(MAX_RERANK_CANDIDATES, GRID_PICKS)).length;
  const answer = JSON.stringify({
    picks: Array.from({ length: GRID_PICKS }, (_, i) => ({
      index: i + 1,
      reason: 'x'.repeat(MAX_REASON_CHARS),
    })),
  });
  return {
    promptTokens: images * TOKENS_PER_SMALL_IMAGE + Math.ceil(chars / 4),
    outputTokens: Math.ceil(answer.length / 4),
  };
}

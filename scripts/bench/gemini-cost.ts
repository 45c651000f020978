/**
 * The bench's cost section: Gemini tokens and dollars per reranked search at the current prompt,
 * from the token counts the Gemini peer answered (`usageMetadata`, counted as Google bills: 258 per
 * thumbnail, ~4 characters a token) and the price in force (GEMINI_PRICE_*_PER_MTOK or the model's
 * list price, src/metrics/cost.ts).
 */
import { costPerRequest, geminiPrice } from '../../src/metrics/cost.ts';
import { loadConfig } from '../../src/util/config.ts';
import { answerOf, type RecordedRequest } from '../../test/peers/gemini-peer.ts';

export interface GeminiCostSection {
  model: string;
  requests: number;
  promptTokensPerRequest: number;
  outputTokensPerRequest: number;
  pricePerMTok: { input: number; output: number; source: string } | 'unknown';
  usdPerRequest: number | null;
  usdPer1000Requests: number | null;
}

/** Averages the answered rerank calls' token counts and prices them. */
export function geminiCostSection(
  requests: readonly RecordedRequest[],
  env: NodeJS.ProcessEnv = process.env,
): GeminiCostSection {
  const answered = requests.filter((r) => r.kind === 'rerank' && r.response?.status === 200);
  let promptTokens = 0;
  let outputTokens = 0;
  for (const r of answered) {
    const usage = answerOf(r).usageMetadata ?? {};
    promptTokens += usage.promptTokenCount ?? 0;
    outputTokens += (usage.candidatesTokenCount ?? 0) + (usage.thoughtsTokenCount ?? 0);
  }
  const config = loadConfig(env);
  const model = answered[0]?.model ?? config.geminiModel;
  const price = geminiPrice(model, config.geminiPriceOverride);
  const cost = costPerRequest({ requests: answered.length, promptTokens, outputTokens }, price);
  const round = (v: number, digits: number) => Math.round(v * 10 ** digits) / 10 ** digits;
  return {
    model,
    requests: answered.length,
    promptTokensPerRequest: Math.round(cost.promptTokens),
    outputTokensPerRequest: Math.round(cost.outputTokens),
    pricePerMTok: price
      ? { input: price.inputPerMTok, output: price.outputPerMTok, source: price.source }
      : 'unknown',
    usdPerRequest: cost.usd === undefined ? null : round(cost.usd, 7),
    usdPer1000Requests: cost.usd === undefined ? null : round(cost.usd * 1000, 4),
  };
}

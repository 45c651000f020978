/**
 * Cost per request: the prompt's token count (what `doctor` shows) agrees with what a real rerank
 * sends, `doctor` prints the price in force and the cost of a search, and the bench's cost section
 * prices the tokens the Gemini peer counted.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { costCheck } from '../../adapters/app/doctor.ts';
import type { RunningBot } from '../../adapters/app/serve.ts';
import { geminiCostSection } from '../../scripts/bench/gemini-cost.ts';
import { costUsd, geminiPrice, rerankTokensAtCurrentPrompt } from '../../src/metrics/cost.ts';
import { DEFAULT_GEMINI_PRICES } from '../../src/rerank/response.ts';
import { loadConfig } from '../../src/util/config.ts';
import { estimateRequestTokens, type GeminiPeer, startGeminiPeer } from '../peers/gemini-peer.ts';
import { startTinyBot, tinyBotEnv, WebClient } from '../production/harness.ts';

const doctorLine = async (env: Record<string, string>) => costCheck(loadConfig(await tinyBotEnv(env))).run();

describe('Gemini price', () => {
  it('is the model list price unless configured, each rate on its own', () => {
    expect(geminiPrice('gemini-2.5-flash')).toEqual({
      inputPerMTok: 0.3,
      outputPerMTok: 2.5,
      source: 'list price',
    });
    expect(geminiPrice('gemini-2.5-flash', { outputPerMTok: 3 })).toEqual({
      inputPerMTok: 0.3,
      outputPerMTok: 3,
      source: 'configured',
    });
    expect(geminiPrice('gemini-9-ultra')).toBeUndefined();
    expect(geminiPrice('gemini-9-ultra', { inputPerMTok: 1, outputPerMTok: 2 })?.source).toBe('configured');
    expect(
      costUsd(
        { promptTokens: 2_000_000, outputTokens: 1_000_000 },
        { inputPerMTok: 0.3, outputPerMTok: 2.5 },
      ),
    ).toBeCloseTo(3.1, 10);
  });
});

describe('doctor: cost', () => {
  it('shows the list price, its source and the cost of a reranked search', async () => {
    const result = await doctorLine({ GEMINI_API_KEY: 'test-key-cost' });
    const tokens = rerankTokensAtCurrentPrompt();
    const price = DEFAULT_GEMINI_PRICES['gemini-2.5-flash']!;
    expect(result.status).toBe('ok');
    expect(result.detail).toContain(
      'gemini-2.5-flash at $0.3 in / $2.5 out per million tokens (ai.google.dev',
    );
    expect(result.detail).toContain(`${tokens.promptTokens} input + ≤ ${tokens.outputTokens} output tokens`);
    expect(result.detail).toContain(`$${costUsd(tokens, price).toFixed(5)}`);
  });

  it('uses configured prices, warns for a model without one, and is off without Gemini', async () => {
    const configured = await doctorLine({
      GEMINI_API_KEY: 'test-key-cost',
      GEMINI_PRICE_INPUT_PER_MTOK: '1',
      GEMINI_PRICE_OUTPUT_PER_MTOK: '4',
    });
    expect(configured.detail).toContain('$1 in / $4 out per million tokens (GEMINI_PRICE_*_PER_MTOK)');
    const unknown = await doctorLine({ GEMINI_API_KEY: 'test-key-cost', GEMINI_MODEL: 'gemini-9-ultra' });
    expect(unknown.status).toBe('warn');
    expect(unknown.fix).toMatch(/GEMINI_PRICE_INPUT_PER_MTOK and GEMINI_PRICE_OUTPUT_PER_MTOK/);
    expect((await doctorLine({})).status).toBe('off');
  });
});

describe('tokens at the current prompt', () => {
  let gemini: GeminiPeer;
  let bot: RunningBot;
  beforeAll(async () => {
    gemini = await startGeminiPeer();
    bot = await startTinyBot({ GEMINI_API_KEY: 'test-key-cost', GEMINI_BASE_URL: gemini.url });
  });
  afterAll(async () => {
    await bot?.stop();
    await gemini?.close();
  });

  it('match what a real rerank sends, and the bench prices what the peer counted', async () => {
    const query = 'a red bicycle leaning on a wall';
    expect((await new WebClient(bot.url).search(query))[1].kind).toBe('results');
    const reranks = gemini.requests.filter((r) => r.kind === 'rerank');
    expect(reranks).toHaveLength(1);
    expect(estimateRequestTokens(reranks[0]!.body)).toBe(rerankTokensAtCurrentPrompt(query).promptTokens);

    const section = geminiCostSection(
      gemini.requests,
      await tinyBotEnv({ GEMINI_PRICE_INPUT_PER_MTOK: '10' }),
    );
    const usage = (reranks[0]!.response!.body as { usageMetadata: Record<string, number> }).usageMetadata;
    expect(section).toMatchObject({
      model: 'gemini-2.5-flash',
      requests: 1,
      promptTokensPerRequest: usage.promptTokenCount,
      outputTokensPerRequest: usage.candidatesTokenCount,
      pricePerMTok: { input: 10, output: 2.5, source: 'configured' },
    });
    expect(section.usdPerRequest).toBeCloseTo(
      ((usage.promptTokenCount ?? 0) * 10 + (usage.candidatesTokenCount ?? 0) * 2.5) / 1e6,
      7,
    );
  });
});

/**
 * The one Gemini client both roles share (the reranker and the query rewriter): API key, model,
 * deadline, thinking budget, prices, one `generateContent` call that never throws, and one log line
 * plus metrics report per call.
 *
 * Gemini is an improvement, never a dependency: every path that does not end in a validated
 * answer within the deadline is a {@link GeminiFailure} with a machine-readable reason.
 */
import {
  type GenerateContentConfig,
  type GenerateContentResponse,
  GoogleGenAI,
  type Part,
} from '@google/genai';
import type { Logger } from '../core/logger.ts';
import type { RerankUsage } from '../core/types.ts';
import { withDeadline } from '../util/deadline.ts';
import {
  classifyError,
  DEFAULT_GEMINI_PRICES,
  type GeminiFallbackReason,
  type GeminiPrice,
  responseText,
  usageOf,
} from './response.ts';

/** Options for {@link GeminiClient}. */
export interface GeminiClientOptions {
  /** GEMINI_API_KEY. Without it nothing is sent and every call falls back. */
  apiKey?: string | undefined;
  /** GEMINI_MODEL. Default {@link DEFAULT_GEMINI_MODEL}. */
  model?: string;
  /** GEMINI_BASE_URL: API endpoint, e.g. a local test peer. Default: Google's public endpoint. */
  baseUrl?: string | undefined;
  /** GEMINI_TIMEOUT_MS: hard deadline for one whole call, thumbnails included. Default 2500. */
  timeoutMs?: number;
  logger: Logger;
  /** Per-model prices for the logged cost estimate; merged over {@link DEFAULT_GEMINI_PRICES}. */
  prices?: Readonly<Record<string, GeminiPrice>>;
  /**
   * Thinking budget in tokens; `null` leaves the model's default. Default 0 (off) for 2.5 Flash
   * models, where picking 4 of 10 gains little from thinking and would double the latency.
   */
  thinkingBudget?: number | null;
  /** Told about every Gemini call made (metrics: tokens, outcomes). Never throws into the call path. */
  onCall?: ((call: GeminiCallReport) => void) | undefined;
}

/** One Gemini call as reported to {@link GeminiClientOptions.onCall}. */
export interface GeminiCallReport {
  op: GeminiOp;
  ok: boolean;
  fallbackReason?: GeminiFallbackReason | undefined;
  latencyMs: number;
  promptTokens?: number | undefined;
  outputTokens?: number | undefined;
}

export type GeminiOp = 'rerank' | 'rewrite';

/** A current Flash-class model: fast and cheap enough to sit inside a chat reply's latency. */
export const DEFAULT_GEMINI_MODEL = 'gemini-2.5-flash';

/** Why a call gave nothing usable. */
export type GeminiFailure = {
  ok: false;
  reason: GeminiFallbackReason;
  httpStatus?: number;
  usage?: RerankUsage | undefined;
};

export type GeminiText = { ok: true; text: string; usage: RerankUsage | undefined };

export class GeminiClient {
  readonly modelId: string;
  readonly timeoutMs: number;
  readonly logger: Logger;
  private readonly client: GoogleGenAI | undefined;
  private readonly price: GeminiPrice | undefined;
  private readonly thinkingBudget: number | null;
  private readonly onCall: ((call: GeminiCallReport) => void) | undefined;

  constructor(opts: GeminiClientOptions) {
    this.modelId = opts.model ?? DEFAULT_GEMINI_MODEL;
    this.timeoutMs = opts.timeoutMs ?? 2500;
    this.logger = opts.logger.child({ component: 'gemini' });
    this.price = { ...DEFAULT_GEMINI_PRICES, ...opts.prices }[this.modelId];
    this.onCall = opts.onCall;
    this.thinkingBudget =
      opts.thinkingBudget !== undefined
        ? opts.thinkingBudget
        : /^gemini-2\.5-flash/.test(this.modelId)
          ? 0
          : null;
    // No retries: one attempt already has the whole deadline, and a retried 429 would only wait.
    this.client = opts.apiKey
      ? new GoogleGenAI({
          apiKey: opts.apiKey,
          vertexai: false,
          ...(opts.baseUrl ? { httpOptions: { baseUrl: opts.baseUrl } } : {}),
        })
      : undefined;
  }

  /** True when an API key is configured (Gemini may be called at all). */
  get enabled(): boolean {
    return this.client !== undefined;
  }

  /** Runs `attempt` under the call deadline; a deadline or caller abort becomes its failure reason. */
  async withinDeadline<T extends { ok: true }>(
    op: GeminiOp,
    signal: AbortSignal | undefined,
    attempt: (signal: AbortSignal) => Promise<T | GeminiFailure>,
  ): Promise<T | GeminiFailure> {
    const outcome = await withDeadline(this.timeoutMs, signal, attempt, op);
    return outcome.ok ? outcome.value : { ok: false, reason: outcome.reason };
  }

  /** One generateContent call; the answer's text or a classified failure. Never throws. */
  async generate(
    parts: Part[],
    config: Pick<GenerateContentConfig, 'systemInstruction' | 'responseJsonSchema' | 'maxOutputTokens'>,
    signal: AbortSignal,
  ): Promise<GeminiText | GeminiFailure> {
    if (!this.client) return { ok: false, reason: 'no_api_key' };
    let res: GenerateContentResponse;
    try {
      res = await this.client.models.generateContent({
        model: this.modelId,
        contents: [{ role: 'user', parts }],
        config: {
          ...config,
          abortSignal: signal,
          responseMimeType: 'application/json',
          temperature: 0,
          ...(this.thinkingBudget !== null
            ? { thinkingConfig: { thinkingBudget: this.thinkingBudget } }
            : {}),
        },
      });
    } catch (e) {
      if (signal.aborted) return { ok: false, reason: 'timeout' };
      return { ok: false, ...classifyError(e) };
    }
    const usage = usageOf(res, this.price);
    const text = responseText(res);
    if (!text.ok) return { ok: false, reason: text.reason, usage };
    return { ok: true, text: text.text, usage };
  }

  /** One log line per call (never the key), and the metrics report. */
  report(
    op: GeminiOp,
    latencyMs: number,
    attempt: { ok: boolean; reason?: GeminiFallbackReason; httpStatus?: number },
    usage: RerankUsage | undefined,
    extra: Record<string, number>,
  ): void {
    const fields = {
      op,
      model: this.modelId,
      latencyMs,
      outcome: attempt.ok ? 'gemini' : 'fallback',
      ...(attempt.ok ? {} : { fallbackReason: attempt.reason }),
      ...(attempt.httpStatus !== undefined ? { httpStatus: attempt.httpStatus } : {}),
      promptTokens: usage?.promptTokens,
      outputTokens: usage?.outputTokens,
      totalTokens: usage?.totalTokens,
      estimatedCostUsd: usage?.estimatedCostUsd,
      ...extra,
    };
    // Without a key there is no call to report, and one line per search would be noise.
    if (attempt.reason === 'no_api_key') this.logger.debug(fields, `gemini ${op} skipped`);
    else this.logger.info(fields, `gemini ${op}`);
    if (attempt.reason === 'no_api_key' || !this.onCall) return;
    try {
      this.onCall({
        op,
        ok: attempt.ok,
        fallbackReason: attempt.reason,
        latencyMs,
        promptTokens: usage?.promptTokens,
        outputTokens: usage?.outputTokens,
      });
    } catch (err) {
      this.logger.debug({ err }, 'gemini onCall observer failed');
    }
  }
}

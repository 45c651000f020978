/**
 * Gemini as the second stage of search: it sees the query and CLIP's top candidates as small
 * thumbnails and picks the best few; it also merges conversation refinements into one query.
 *
 * Gemini is an improvement, never a dependency: every path that does not end in a validated
 * answer within the deadline returns CLIP's order (or `undefined` for rewrites) with a
 * machine-readable reason. Nothing here throws to the caller.
 */
import {
  type GenerateContentConfig,
  type GenerateContentResponse,
  GoogleGenAI,
  type Part,
} from '@google/genai';
import sharp from 'sharp';
import type {
  ImageStore,
  QueryRewriter,
  RerankCandidate,
  Reranker,
  RerankResult,
  RerankUsage,
} from '../core/types.ts';
import type { Config } from '../util/config.ts';
import type { Logger } from '../util/logger.ts';
import { withDeadline } from './deadline.ts';
import {
  cleanText,
  looksLikePromptInjection,
  MAX_QUERY_CHARS,
  MAX_REFINEMENTS,
  RERANK_SYSTEM_INSTRUCTION,
  REWRITE_SCHEMA,
  REWRITE_SYSTEM_INSTRUCTION,
  rerankParts,
  rerankSchema,
  rewriteText,
} from './prompt.ts';
import {
  classifyError,
  DEFAULT_GEMINI_PRICES,
  type GeminiFallbackReason,
  type GeminiPrice,
  parsePicks,
  parseRewrite,
  responseText,
  usageOf,
  type ValidPick,
} from './response.ts';

/** Options for {@link GeminiReranker}. */
export interface GeminiRerankerOptions {
  /** GEMINI_API_KEY. Without it nothing is sent and every rerank falls back to CLIP order. */
  apiKey?: string | undefined;
  /** GEMINI_MODEL. Default {@link DEFAULT_GEMINI_MODEL}. */
  model?: string;
  /** GEMINI_BASE_URL: API endpoint, e.g. a local test peer. Default: Google's public endpoint. */
  baseUrl?: string | undefined;
  /** GEMINI_TIMEOUT_MS: hard deadline for one whole call, thumbnails included. Default 2500. */
  timeoutMs?: number;
  /** Where candidate thumbnails come from. */
  imageStore: ImageStore;
  /** Longest side of each thumbnail sent, ≤ 384 (Gemini's cheapest 258-token image). Default 384. */
  thumbWidth?: number;
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

/** One Gemini call as reported to {@link GeminiRerankerOptions.onCall}. */
export interface GeminiCallReport {
  op: 'rerank' | 'rewrite';
  ok: boolean;
  fallbackReason?: GeminiFallbackReason | undefined;
  latencyMs: number;
  promptTokens?: number | undefined;
  outputTokens?: number | undefined;
}

/** A current Flash-class model: fast and cheap enough to sit inside a chat reply's latency. */
export const DEFAULT_GEMINI_MODEL = 'gemini-2.5-flash';
/** Gemini's smallest image tile; larger thumbnails cost 258 tokens per extra tile. */
export const MAX_THUMB_WIDTH = 384;
/** More candidates would blow the token budget (10 × 258 image tokens + text ≤ 3,500). */
export const MAX_RERANK_CANDIDATES = 10;

type Failure = {
  ok: false;
  reason: GeminiFallbackReason;
  httpStatus?: number;
  usage?: RerankUsage | undefined;
};
type Attempt = { ok: true; picks: ValidPick[]; shown: string[]; usage: RerankUsage | undefined } | Failure;
type RewriteAttempt = { ok: true; query: string; usage: RerankUsage | undefined } | Failure;

export class GeminiReranker implements Reranker, QueryRewriter {
  readonly modelId: string;
  private readonly client: GoogleGenAI | undefined;
  private readonly timeoutMs: number;
  private readonly thumbWidth: number;
  private readonly imageStore: ImageStore;
  private readonly logger: Logger;
  private readonly price: GeminiPrice | undefined;
  private readonly thinkingBudget: number | null;
  private readonly onCall: ((call: GeminiCallReport) => void) | undefined;

  constructor(opts: GeminiRerankerOptions) {
    this.modelId = opts.model ?? DEFAULT_GEMINI_MODEL;
    this.timeoutMs = opts.timeoutMs ?? 2500;
    this.thumbWidth = Math.max(32, Math.min(MAX_THUMB_WIDTH, Math.round(opts.thumbWidth ?? MAX_THUMB_WIDTH)));
    this.imageStore = opts.imageStore;
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

  /** Builds one from the validated configuration. */
  static fromConfig(
    config: Pick<Config, 'geminiApiKey' | 'geminiModel' | 'geminiBaseUrl' | 'geminiTimeoutMs'>,
    deps: { imageStore: ImageStore; logger: Logger; onCall?: GeminiRerankerOptions['onCall'] },
  ): GeminiReranker {
    return new GeminiReranker({
      apiKey: config.geminiApiKey,
      model: config.geminiModel,
      baseUrl: config.geminiBaseUrl,
      timeoutMs: config.geminiTimeoutMs,
      ...deps,
    });
  }

  /** True when an API key is configured (Gemini may be called at all). */
  get enabled(): boolean {
    return this.client !== undefined;
  }

  async rerank(
    query: string,
    candidates: RerankCandidate[],
    want = 4,
    signal?: AbortSignal,
  ): Promise<RerankResult> {
    const started = performance.now();
    const clipOrder = candidates.map((c) => c.id);
    const n = Math.min(Math.max(0, Math.floor(want)), candidates.length);
    const text = cleanText(query, MAX_QUERY_CHARS);
    const pool = candidates.slice(0, MAX_RERANK_CANDIDATES);

    let attempt: Attempt;
    if (candidates.length === 0 || n === 0) attempt = { ok: false, reason: 'no_candidates' };
    else if (!this.client) attempt = { ok: false, reason: 'no_api_key' };
    else if (looksLikePromptInjection(query)) attempt = { ok: false, reason: 'prompt_injection' };
    // Showing all of them anyway: Gemini could only reorder the tiles, not worth a call.
    else if (pool.length <= n) attempt = { ok: false, reason: 'too_few_candidates' };
    else {
      const client = this.client;
      const outcome = await withDeadline(this.timeoutMs, signal, (sig) =>
        this.attemptRerank(client, text, pool, n, sig),
      );
      attempt = outcome.ok ? outcome.value : { ok: false, reason: outcome.reason };
    }

    const latencyMs = Math.round(performance.now() - started);
    const usage = attempt.usage;
    this.logCall('rerank', latencyMs, attempt, usage, { candidates: candidates.length });
    if (!attempt.ok) {
      return {
        order: clipOrder.slice(0, n),
        rankedBy: 'clip',
        fallbackReason: attempt.reason,
        ...(usage ? { usage } : {}),
      };
    }

    const order: string[] = [];
    const reasons: Record<string, string> = {};
    for (const p of attempt.picks) {
      const id = attempt.shown[p.position];
      if (id === undefined) continue;
      order.push(id);
      if (p.reason) reasons[id] = p.reason;
    }
    // Gemini chose fewer than wanted: the rest keep CLIP's order.
    for (const id of clipOrder) {
      if (order.length >= n) break;
      if (!order.includes(id)) order.push(id);
    }
    return { order, rankedBy: 'gemini', reasons, ...(usage ? { usage } : {}) };
  }

  async rewrite(original: string, refinements: string[], signal?: AbortSignal): Promise<string | undefined> {
    const started = performance.now();
    const base = cleanText(original);
    const refs = refinements
      .map((r) => cleanText(r))
      .filter(Boolean)
      .slice(-MAX_REFINEMENTS);

    let attempt: RewriteAttempt;
    if (!this.client) attempt = { ok: false, reason: 'no_api_key' };
    // Nothing to merge: the caller's deterministic merge is already the answer.
    else if (!base || refs.length === 0) attempt = { ok: false, reason: 'empty_input' };
    else if ([original, ...refinements].some(looksLikePromptInjection)) {
      attempt = { ok: false, reason: 'prompt_injection' };
    } else {
      const client = this.client;
      const outcome = await withDeadline(this.timeoutMs, signal, (sig) =>
        this.attemptRewrite(client, base, refs, sig),
      );
      attempt = outcome.ok ? outcome.value : { ok: false, reason: outcome.reason };
    }
    this.logCall('rewrite', Math.round(performance.now() - started), attempt, attempt.usage, {
      refinements: refs.length,
    });
    return attempt.ok ? attempt.query : undefined;
  }

  private async attemptRerank(
    client: GoogleGenAI,
    query: string,
    pool: RerankCandidate[],
    want: number,
    signal: AbortSignal,
  ): Promise<Attempt> {
    const thumbs = await Promise.all(pool.map((c) => this.thumbnail(c, signal)));
    const shown: string[] = [];
    const images: Buffer[] = [];
    thumbs.forEach((t, i) => {
      const c = pool[i];
      if (t && c) {
        shown.push(c.id);
        images.push(t);
      }
    });
    if (signal.aborted) return { ok: false, reason: 'timeout' };
    if (images.length === 0) return { ok: false, reason: 'no_thumbnails' };
    const k = Math.min(want, images.length);

    const called = await this.generate(
      client,
      rerankParts(query, images, k),
      {
        systemInstruction: RERANK_SYSTEM_INSTRUCTION,
        responseJsonSchema: rerankSchema(images.length, k),
        maxOutputTokens: 60 + 40 * k,
      },
      signal,
    );
    if (!called.ok) return called;
    const picked = parsePicks(called.text, images.length, k);
    if (!picked.ok) return { ok: false, reason: picked.reason, usage: called.usage };
    return { ok: true, picks: picked.picks, shown, usage: called.usage };
  }

  private async attemptRewrite(
    client: GoogleGenAI,
    original: string,
    refinements: string[],
    signal: AbortSignal,
  ): Promise<RewriteAttempt> {
    const called = await this.generate(
      client,
      [{ text: rewriteText(original, refinements) }],
      {
        systemInstruction: REWRITE_SYSTEM_INSTRUCTION,
        responseJsonSchema: REWRITE_SCHEMA,
        maxOutputTokens: 100,
      },
      signal,
    );
    if (!called.ok) return called;
    const query = parseRewrite(called.text, MAX_QUERY_CHARS);
    // A rewrite that itself reads like an instruction would be fed to the next rerank prompt.
    if (query === undefined || looksLikePromptInjection(query)) {
      return { ok: false, reason: 'malformed_response', usage: called.usage };
    }
    return { ok: true, query, usage: called.usage };
  }

  /** One generateContent call; the answer's text or a classified failure. Never throws. */
  private async generate(
    client: GoogleGenAI,
    parts: Part[],
    config: Pick<GenerateContentConfig, 'systemInstruction' | 'responseJsonSchema' | 'maxOutputTokens'>,
    signal: AbortSignal,
  ): Promise<{ ok: true; text: string; usage: RerankUsage | undefined } | Failure> {
    let res: GenerateContentResponse;
    try {
      res = await client.models.generateContent({
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

  /**
   * A JPEG no larger than thumbWidth on either side (Gemini bills by tiles of 384×384), or null
   * when the image cannot be had in time: that candidate is just not shown to Gemini.
   */
  private async thumbnail(c: RerankCandidate, signal: AbortSignal): Promise<Buffer | null> {
    try {
      const raw = await this.imageStore.get(c.entry, this.thumbWidth, signal);
      if (signal.aborted) return null;
      const meta = await sharp(raw).metadata();
      const fits =
        (meta.width ?? Infinity) <= this.thumbWidth && (meta.height ?? Infinity) <= this.thumbWidth;
      if (meta.format === 'jpeg' && fits && (meta.orientation ?? 1) === 1) return raw;
      return await sharp(raw)
        .rotate()
        .resize({ width: this.thumbWidth, height: this.thumbWidth, fit: 'inside', withoutEnlargement: true })
        .flatten({ background: '#ffffff' })
        .jpeg({ quality: 75 })
        .toBuffer();
    } catch (e) {
      if (!signal.aborted) {
        this.logger.debug(
          { id: c.id, err: e instanceof Error ? e.name : 'unknown' },
          'thumbnail unavailable',
        );
      }
      return null;
    }
  }

  private logCall(
    op: 'rerank' | 'rewrite',
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

/**
 * Gemini as the second stage of search: it sees the query and CLIP's top candidates as small
 * thumbnails and picks the best few. Every path that does not end in a validated answer within the
 * deadline returns CLIP's order with a machine-readable reason. Nothing here throws to the caller.
 */
import sharp from 'sharp';
import { DEFAULTS } from '../core/defaults.ts';
import type { ImageStore, RerankCandidate, Reranker, RerankResult, RerankUsage } from '../core/types.ts';
import { allowFanOut } from '../util/deadline.ts';
import type { GeminiClient, GeminiFailure } from './gemini-client.ts';
import {
  looksLikePromptInjection,
  promptQuery,
  RERANK_SYSTEM_INSTRUCTION,
  rerankParts,
  rerankSchema,
} from './prompt.ts';
import { parsePicks, type ValidPick } from './response.ts';

/** Options for {@link GeminiReranker}. */
export interface GeminiRerankerOptions {
  /** The shared Gemini client (key, model, deadline, logging). */
  gemini: GeminiClient;
  /**
   * Where thumbnails come from for candidates that arrive without their image (the search pipeline
   * hands over the bytes it fetched for the grid, so each candidate is fetched once).
   */
  imageStore: ImageStore;
  /** Longest side of each thumbnail sent, ≤ 384 (Gemini's cheapest 258-token image). Default 384. */
  thumbWidth?: number;
}

/** Gemini's smallest image tile; larger thumbnails cost 258 tokens per extra tile. */
export const MAX_THUMB_WIDTH = 384;
/** More candidates would blow the token budget (10 × 258 image tokens + text ≤ 3,500). */
export const MAX_RERANK_CANDIDATES = 10;

type Attempt =
  | { ok: true; picks: ValidPick[]; shown: string[]; usage: RerankUsage | undefined }
  | GeminiFailure;

/** Gemini as the second stage of search: it sees the query and CLIP's top candidates as thumbnails. */
export class GeminiReranker implements Reranker {
  private readonly gemini: GeminiClient;
  private readonly thumbWidth: number;
  private readonly imageStore: ImageStore;

  constructor(opts: GeminiRerankerOptions) {
    this.gemini = opts.gemini;
    this.thumbWidth = Math.max(32, Math.min(MAX_THUMB_WIDTH, Math.round(opts.thumbWidth ?? MAX_THUMB_WIDTH)));
    this.imageStore = opts.imageStore;
  }

  get modelId(): string {
    return this.gemini.modelId;
  }

  get deadlineMs(): number {
    return this.gemini.timeoutMs;
  }

  async rerank(
    query: string,
    candidates: RerankCandidate[],
    want: number = DEFAULTS.perGrid,
    signal?: AbortSignal,
  ): Promise<RerankResult> {
    const started = performance.now();
    const clipOrder = candidates.map((c) => c.id);
    const n = Math.min(Math.max(0, Math.floor(want)), candidates.length);
    const text = promptQuery(query);
    const pool = candidates.slice(0, MAX_RERANK_CANDIDATES);

    let attempt: Attempt;
    if (candidates.length === 0 || n === 0) attempt = { ok: false, reason: 'no_candidates' };
    else if (!this.gemini.enabled) attempt = { ok: false, reason: 'no_api_key' };
    else if (looksLikePromptInjection(query)) attempt = { ok: false, reason: 'prompt_injection' };
    // Showing all of them anyway: Gemini could only reorder the tiles, not worth a call.
    else if (pool.length <= n) attempt = { ok: false, reason: 'too_few_candidates' };
    else
      attempt = await this.gemini.withinDeadline('rerank', signal, (sig) => this.attempt(text, pool, n, sig));

    const latencyMs = Math.round(performance.now() - started);
    const usage = attempt.usage;
    this.gemini.report('rerank', latencyMs, attempt, usage, { candidates: candidates.length });
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

  private async attempt(
    query: string,
    pool: RerankCandidate[],
    want: number,
    signal: AbortSignal,
  ): Promise<Attempt> {
    allowFanOut(signal, pool.length);
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

    const called = await this.gemini.generate(
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

  /**
   * A JPEG no larger than thumbWidth on either side (Gemini bills by tiles of 384×384), made from
   * the candidate's own image when it carries one, or null when the image cannot be had in time:
   * that candidate is just not shown to Gemini.
   */
  private async thumbnail(c: RerankCandidate, signal: AbortSignal): Promise<Buffer | null> {
    try {
      const raw = c.image
        ? await c.image(signal)
        : await this.imageStore.get(c.entry, this.thumbWidth, signal);
      if (!raw || signal.aborted) return null;
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
        this.gemini.logger.debug(
          { id: c.id, err: e instanceof Error ? e.name : 'unknown' },
          'thumbnail unavailable',
        );
      }
      return null;
    }
  }
}

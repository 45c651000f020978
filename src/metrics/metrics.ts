/**
 * Prometheus metrics (prom-client). The core never imports this module: the composition root wraps
 * the ConversationHandler and the SearchService in decorators that observe what passes through,
 * and hands adapters an optional upload observer. Label values come from small fixed sets (never
 * from user text), so series stay bounded.
 */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type {
  BotReply,
  ConversationHandler,
  Platform,
  SearchQuery,
  SearchReply,
  SearchService,
} from '../core/types.ts';
import type { GeminiPrice } from '../rerank/response.ts';
import { costUsd } from './cost.ts';

/** Pipeline stages with a latency histogram (`stage` label of `imagesearch_stage_duration_seconds`). */
export const STAGES = ['encode', 'search', 'rerank', 'compose', 'upload', 'total'] as const;
export type Stage = (typeof STAGES)[number];

/** `outcome` label of `imagesearch_requests_total`. */
export type RequestOutcome = 'results' | 'open' | 'notice' | 'rejected' | 'error';

/** One Gemini call as the reranker reports it (see GeminiRerankerOptions.onCall). */
export interface GeminiCallObservation {
  op: 'rerank' | 'rewrite';
  /** False when the call failed (timeout, HTTP error, unusable answer); it still counts against the quota. */
  ok?: boolean | undefined;
  /** Why the call gave nothing usable; some reasons mean no request was sent at all. */
  fallbackReason?: string | undefined;
  promptTokens?: number | undefined;
  outputTokens?: number | undefined;
}

/** The bot's metrics and the helpers that feed them. */
export interface Metrics {
  readonly registry: Registry;
  /** Counts one answered request and its end-to-end latency. */
  observeReply(platform: Platform, reply: BotReply, seconds: number): void;
  /** Records a search's per-stage timings and, when CLIP order was used, why. */
  observeSearch(reply: SearchReply): void;
  /** An adapter uploaded a result (grid or photo) to its platform. */
  observeUpload(platform: Platform, seconds: number, ok: boolean): void;
  /** Counts one Gemini call, its tokens and, when a price is known, its cost. */
  observeGemini(call: GeminiCallObservation): void;
  /** `imagesearch_ready` reads this on every scrape (the same check as `/readyz`). */
  trackReadiness(ready: () => Promise<boolean>): void;
  /** Prometheus text exposition of every metric. */
  expose(): Promise<{ contentType: string; body: string }>;
}

/** Options of {@link createMetrics}. */
export interface MetricsOptions {
  /** Include prom-client's process metrics (CPU, memory, event loop, GC). Default true. */
  defaultMetrics?: boolean;
  /** Price of the configured Gemini model; without one the cost counter stays at zero. */
  geminiPrice?: GeminiPrice | undefined;
  /** The project's Gemini quota, exported as `imagesearch_gemini_quota_limit` for the quota alert. */
  geminiQuota?: { requestsPerMinute: number; tokensPerMinute: number } | undefined;
}

/**
 * Fallback reasons decided before any request is sent (nothing to rank, a query that looks like
 * prompt injection, …): reported like calls, but they use no quota and are not counted as calls.
 */
const DECIDED_WITHOUT_A_CALL = new Set([
  'no_api_key',
  'no_candidates',
  'empty_input',
  'too_few_candidates',
  'no_thumbnails',
  'prompt_injection',
]);

// Encode and search take milliseconds, rerank and uploads up to seconds: one bucket set covers both.
const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** A fresh registry with the bot's metrics (one per process; tests make their own). */
export function createMetrics(opts: MetricsOptions = {}): Metrics {
  const registry = new Registry();
  if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: registry, prefix: 'imagesearch_' });

  const requests = new Counter({
    name: 'imagesearch_requests_total',
    help: 'Requests answered, by platform and outcome (results, open, notice, rejected, error).',
    labelNames: ['platform', 'outcome'] as const,
    registers: [registry],
  });
  const requestSeconds = new Histogram({
    name: 'imagesearch_request_duration_seconds',
    help: 'Time from a normalised request to the core reply, by platform (upload not included).',
    labelNames: ['platform'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [registry],
  });
  const stageSeconds = new Histogram({
    name: 'imagesearch_stage_duration_seconds',
    help: 'Latency of each pipeline stage: encode, search, rerank, compose, upload, total (search pipeline).',
    labelNames: ['stage'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [registry],
  });
  const uploads = new Counter({
    name: 'imagesearch_uploads_total',
    help: 'Result uploads to a platform, by platform and outcome (ok, failed).',
    labelNames: ['platform', 'outcome'] as const,
    registers: [registry],
  });
  const fallbacks = new Counter({
    name: 'imagesearch_gemini_fallbacks_total',
    help: 'Searches answered in CLIP order instead of Gemini order, by reason.',
    labelNames: ['reason'] as const,
    registers: [registry],
  });
  const tokens = new Counter({
    name: 'imagesearch_gemini_tokens_total',
    help: 'Gemini tokens used, by operation (rerank, rewrite) and kind (prompt, output).',
    labelNames: ['op', 'kind'] as const,
    registers: [registry],
  });
  const geminiCalls = new Counter({
    name: 'imagesearch_gemini_requests_total',
    help: 'Gemini API calls made, by operation (rerank, rewrite) and outcome (ok, failed); each counts against the quota.',
    labelNames: ['op', 'outcome'] as const,
    registers: [registry],
  });
  const cost = new Counter({
    name: 'imagesearch_gemini_cost_usd_total',
    help: 'Estimated Gemini spend in US dollars (tokens × GEMINI_PRICE_*_PER_MTOK), by operation.',
    labelNames: ['op'] as const,
    registers: [registry],
  });
  const quota = new Gauge({
    name: 'imagesearch_gemini_quota_limit',
    help: 'The configured Gemini quota per minute (GEMINI_QUOTA_RPM, GEMINI_QUOTA_TPM), by kind (requests, tokens).',
    labelNames: ['kind'] as const,
    registers: [registry],
  });
  let readiness: (() => Promise<boolean>) | undefined;
  new Gauge({
    name: 'imagesearch_ready',
    help: '1 while this replica is ready to take searches (what /readyz says), 0 otherwise.',
    registers: [registry],
    async collect() {
      this.set(readiness && (await readiness().catch(() => false)) ? 1 : 0);
    },
  });
  if (opts.geminiQuota) {
    quota.set({ kind: 'requests' }, opts.geminiQuota.requestsPerMinute);
    quota.set({ kind: 'tokens' }, opts.geminiQuota.tokensPerMinute);
  }
  // Zero-valued series from the start, so dashboards and rate() see them before the first event.
  for (const stage of STAGES) stageSeconds.zero({ stage });

  return {
    registry,
    observeReply(platform, reply, seconds) {
      requests.inc({ platform, outcome: outcomeOf(reply) });
      requestSeconds.observe({ platform }, seconds);
    },
    observeSearch(reply) {
      for (const stage of STAGES) {
        const ms = reply.timingsMs[stage];
        if (typeof ms === 'number' && Number.isFinite(ms)) stageSeconds.observe({ stage }, ms / 1000);
      }
      if (reply.rankedBy === 'clip') fallbacks.inc({ reason: reasonLabel(reply.fallbackReason) });
    },
    observeUpload(platform, seconds, ok) {
      uploads.inc({ platform, outcome: ok ? 'ok' : 'failed' });
      if (ok) stageSeconds.observe({ stage: 'upload' }, seconds);
    },
    observeGemini(call) {
      if (!DECIDED_WITHOUT_A_CALL.has(call.fallbackReason ?? ''))
        geminiCalls.inc({ op: call.op, outcome: call.ok === false ? 'failed' : 'ok' });
      if (opts.geminiPrice) cost.inc({ op: call.op }, costUsd(call, opts.geminiPrice));
      if (call.promptTokens) tokens.inc({ op: call.op, kind: 'prompt' }, call.promptTokens);
      if (call.outputTokens) tokens.inc({ op: call.op, kind: 'output' }, call.outputTokens);
    },
    trackReadiness(ready) {
      readiness = ready;
    },
    async expose() {
      return { contentType: registry.contentType, body: await registry.metrics() };
    },
  };
}

/** The request outcome label of one reply. */
export function outcomeOf(reply: BotReply): RequestOutcome {
  if (reply.kind !== 'notice') return reply.kind;
  if (reply.level === 'error') return 'error';
  return reply.level === 'warn' ? 'rejected' : 'notice';
}

// Fallback reasons are ours (gemini-reranker's GeminiFallbackReason and the search service's), but
// they arrive as strings: keep the label set bounded even if a new one is malformed.
function reasonLabel(reason: string | undefined): string {
  if (!reason) return 'unknown';
  return /^[a-z0-9_]{1,40}$/.test(reason) ? reason : 'other';
}

/** Wraps a handler so every reply is counted by platform and outcome, with its latency. */
export function instrumentHandler(handler: ConversationHandler, metrics: Metrics): ConversationHandler {
  return {
    async handle(request, signal) {
      const started = performance.now();
      try {
        const reply = await handler.handle(request, signal);
        metrics.observeReply(request.platform, reply, (performance.now() - started) / 1000);
        return reply;
      } catch (e) {
        // The engine never throws; a handler that does still shows up as an error.
        metrics.observeReply(
          request.platform,
          { kind: 'notice', level: 'error', text: 'failed' },
          (performance.now() - started) / 1000,
        );
        throw e;
      }
    },
  };
}

/** Wraps a search service so each search's stage timings and fallback reason are recorded. */
export function instrumentSearch(search: SearchService, metrics: Metrics): SearchService {
  return {
    get modelId() {
      return search.modelId;
    },
    async search(query: SearchQuery, signal?: AbortSignal) {
      const reply = await search.search(query, signal);
      metrics.observeSearch(reply);
      return reply;
    },
    checkImage: (bytes) => search.checkImage(bytes),
    getEntry: (id) => search.getEntry(id),
    getVector: (id) => search.getVector(id),
    getImage: (entry, width, signal) => search.getImage(entry, width, signal),
  };
}

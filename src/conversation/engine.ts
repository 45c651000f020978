import { resultActions } from '../core/actions.ts';
import { asImageSearchError, ImageSearchError } from '../core/errors.ts';
import type {
  BotReply,
  ConversationHandler,
  QueryRewriter,
  SearchAction,
  SearchRequest,
  SearchService,
  StateStore,
} from '../core/types.ts';
import type { Logger } from '../logger.ts';
import { createConcurrencyLimiter } from '../state/concurrency.ts';
import { createRateLimiter } from '../state/rate-limit.ts';
import { isStateAvailable } from '../state/state-store.ts';
import {
  type ConversationState,
  conversationKey,
  isBlank,
  newConversation,
  parseConversationState,
  requestKey,
} from './conversation-state.ts';
import { HELP_TEXT, MSG } from './messages.ts';
import { cleanText, MAX_QUERY_CHARS, type ParsedMessage, parseMessage } from './parse-message.ts';
import { ReplyCache } from './reply-cache.ts';
import { SearchSteps } from './search-steps.ts';

/** Options of {@link createConversationEngine}. */
export interface ConversationEngineOptions {
  search: SearchService;
  state: StateStore;
  /** Gemini query rewriter; without it refinements are merged deterministically. */
  rewriter?: QueryRewriter | undefined;
  logger: Logger;
  /** RATE_LIMIT_PER_MINUTE: searches per user per minute (token bucket, see src/state/rate-limit.ts). */
  rateLimitPerMinute: number;
  /** MAX_CONCURRENT_SEARCHES. */
  maxConcurrent: number;
  /** STATE_TTL_DAYS in ms: how long a conversation is remembered. */
  ttlMs: number;
  /** Deadline of one rewrite before the deterministic merge is used. Default 1500 ms. */
  rewriteTimeoutMs?: number;
  /** Longer queries are cut (and the user told). Default {@link MAX_QUERY_CHARS}. */
  maxQueryChars?: number;
  /** Searches allowed to wait for a slot before "busy". Default 4 × maxConcurrent. */
  maxQueue?: number;
  /** Longest wait for a slot before "busy". Default 5000 ms. */
  maxWaitMs?: number;
  /** Width asked of `SearchService.getImage` for "open N". Default 1600. */
  openWidth?: number;
  now?: () => number;
}

/** What one request asks for once text, buttons and uploads are read. */
export type Intent = ParsedMessage | { type: 'image'; bytes: Buffer; caption: string };

/** Cross-replica duplicate markers live this long (Slack retries within minutes). */
const DEDUPE_TTL_MS = 10 * 60_000;

/**
 * The conversation engine: one `handle` for every adapter. It never throws: every failure becomes a
 * short notice (details logged).
 *
 * De-duplication contract: `handle` is idempotent per `request.requestId`. A repeat that reaches the
 * same process while the first is running or within 10 minutes gets the SAME reply object (no new
 * search, no state change). A repeat that reaches another replica (known only from the shared
 * state) gets an ephemeral 'Already on it.' notice. Adapters that receive platform retries should
 * still skip posting a reply twice; the engine only guarantees no double work.
 */
export function createConversationEngine(opts: ConversationEngineOptions): ConversationHandler {
  const log = opts.logger.child({ component: 'conversation' });
  const now = opts.now ?? Date.now;
  const maxChars = opts.maxQueryChars ?? MAX_QUERY_CHARS;
  const rate = createRateLimiter({ perMinute: opts.rateLimitPerMinute, now });
  const limiter = createConcurrencyLimiter({
    max: opts.maxConcurrent,
    ...(opts.maxQueue !== undefined ? { maxQueue: opts.maxQueue } : {}),
    ...(opts.maxWaitMs !== undefined ? { maxWaitMs: opts.maxWaitMs } : {}),
  });
  const steps = new SearchSteps({
    search: opts.search,
    rewriter: opts.rewriter,
    logger: log,
    limiter,
    rewriteTimeoutMs: opts.rewriteTimeoutMs ?? 1500,
    openWidth: opts.openWidth ?? 1600,
  });
  const cache = new ReplyCache();
  const inflight = new Map<string, Promise<BotReply>>();

  const notice = (text: string, level: 'info' | 'warn' | 'error' = 'info', ephemeral?: boolean): BotReply =>
    ephemeral ? { kind: 'notice', text, level, ephemeral } : { kind: 'notice', text, level };

  function readIntent(request: SearchRequest, notes: string[]): Intent | BotReply {
    if (request.action) return fromAction(request.action);
    const clean = cleanText(request.text, maxChars);
    if (clean.truncated) notes.push(MSG.truncated(maxChars));
    if (request.image)
      return { type: 'image', bytes: request.image.bytes, caption: clean.hasWords ? clean.text : '' };
    if (clean.text === '') return notice(MSG.empty);
    if (!clean.hasWords) return notice(MSG.emojiOnly);
    return parseMessage(clean.text);
  }

  function chargeRate(userId: string): void {
    const decision = rate.take(userId);
    if (!decision.ok) {
      const seconds = Math.max(1, Math.ceil(decision.retryAfterMs / 1000));
      throw new ImageSearchError('rate_limited', MSG.rateLimited(seconds), { detail: userId });
    }
  }

  // The managed store never throws; any other StateStore gets the same forgiving treatment here.
  const state: StateStore = {
    get: <T>(key: string) =>
      opts.state.get<T>(key).catch((err: unknown) => {
        log.warn({ err, key }, 'state read failed; answering without memory');
        return undefined;
      }),
    set: (key, value, ttlMs) =>
      opts.state.set(key, value, ttlMs).catch((err: unknown) => log.warn({ err, key }, 'state write failed')),
    delete: (key) =>
      opts.state.delete(key).catch((err: unknown) => log.warn({ err, key }, 'state delete failed')),
    withLock: (key, fn) => opts.state.withLock(key, fn),
  };

  async function locked(request: SearchRequest, intent: Intent, notes: string[], signal?: AbortSignal) {
    const key = conversationKey(request.conversationId);
    if (request.requestId) {
      const rk = requestKey(request.requestId);
      if ((await state.get(rk)) !== undefined) return notice(MSG.duplicate, 'info', true);
      await state.set(rk, { at: now(), conversationId: request.conversationId }, DEDUPE_TTL_MS);
    }
    const existing = parseConversationState(await state.get(key));
    const available = isStateAvailable(opts.state);

    const save = (conv: ConversationState) => state.set(key, { ...conv, updatedAt: now() }, opts.ttlMs);
    const run = async (conv: ConversationState, reuseVector = false, charged = false): Promise<BotReply> => {
      if (!charged) chargeRate(request.userId);
      const result = await steps.run(conv, reuseVector, signal);
      await save(result.conv);
      if (!result.reply) return notice(MSG.noMoreResults);
      const text = [...notes, result.reply.caption].filter(Boolean).join('\n');
      return {
        kind: 'results',
        text,
        reply: result.reply,
        actions: resultActions(result.reply.picks.length),
      };
    };
    const fresh = (text: string, negatives: string[]) => {
      if (text === '') return notice(MSG.empty);
      return run({ ...newConversation(request.userId, now()), original: text, queryText: text, negatives });
    };

    switch (intent.type) {
      case 'help':
        return notice(HELP_TEXT);
      case 'start-over':
        // A blank state (not a deletion) so the next message in this thread starts a search.
        await save(newConversation(request.userId, now()));
        return notice(MSG.startOver);
      case 'new':
        return fresh(intent.text, intent.negatives);
      case 'image': {
        chargeRate(request.userId);
        const anchor = await steps.embedImage(intent.bytes);
        const conv = newConversation(request.userId, now());
        const imageConv = {
          ...conv,
          original: intent.caption,
          queryText: intent.caption,
          anchor: Array.from(anchor),
          anchorLabel: 'your image',
        };
        return run(imageConv, false, true);
      }
      case 'refine':
        if (!request.followUp || !existing || isBlank(existing)) {
          // A follow-up to a conversation we don't know: expired, unless memory is down (then answer anyway).
          if (request.followUp && !existing && available) return notice(MSG.expired);
          return fresh(intent.text, intent.negatives);
        }
        return run(await steps.refine(existing, intent.text, intent.negatives, signal));
      case 'open':
      case 'more-like':
      case 'reroll': {
        if (!existing || existing.lastPicks.length === 0) {
          if (!available) return notice(MSG.noMemory, 'warn');
          if (existing) return notice(MSG.noSearchYet);
          return notice(request.followUp || request.action ? MSG.expired : MSG.noSearchYet);
        }
        if (intent.type === 'reroll') return run(existing, true);
        const count = existing.lastPicks.length;
        if (intent.n < 1 || intent.n > count) return notice(MSG.noSuchPick(intent.n, count));
        if (intent.type === 'open')
          return (await steps.open(existing, intent.n, signal)) ?? notice(MSG.pickGone);
        const moved = await steps.moveToPick(existing, intent.n);
        return moved ? run(moved) : notice(MSG.pickGone);
      }
    }
  }

  async function processRequest(request: SearchRequest, signal?: AbortSignal): Promise<BotReply> {
    const started = now();
    const notes: string[] = [];
    let intentType = 'unknown';
    try {
      const intent = readIntent(request, notes);
      if ('kind' in intent) return intent;
      intentType = intent.type;
      if (intent.type === 'help') return notice(HELP_TEXT);
      const reply = await state.withLock(conversationKey(request.conversationId), () =>
        locked(request, intent, notes, signal),
      );
      log.info(
        {
          conversationId: request.conversationId,
          intent: intentType,
          reply: reply.kind,
          ms: now() - started,
        },
        'handled',
      );
      return reply;
    } catch (e) {
      return errorReply(e, request, intentType);
    }
  }

  function errorReply(e: unknown, request: SearchRequest, intent: string): BotReply {
    const err = asImageSearchError(e);
    const context = {
      conversationId: request.conversationId,
      requestId: request.requestId,
      intent,
      code: err.code,
    };
    switch (err.code) {
      case 'rate_limited':
      case 'busy':
        log.info(context, err.message);
        return notice(err.userMessage, 'warn', err.code === 'rate_limited');
      case 'image_invalid':
        log.info({ ...context, err }, 'unreadable image');
        return notice(MSG.imageUnreadable, 'warn');
      case 'image_too_large':
      case 'query_invalid':
        log.info({ ...context, err }, 'rejected request');
        return notice(err.userMessage, 'warn');
      default:
        log.error({ ...context, err }, 'request failed');
        return notice(err.userMessage, 'error');
    }
  }

  return {
    async handle(request, signal) {
      const id = request.requestId;
      if (!id) return processRequest(request, signal);
      const known = cache.get(id) ?? inflight.get(id);
      if (known) return known;
      const pending = processRequest(request, signal);
      inflight.set(id, pending);
      try {
        const reply = await pending;
        cache.set(id, reply);
        return reply;
      } finally {
        inflight.delete(id);
      }
    },
  };
}

function fromAction(action: SearchAction): Intent {
  switch (action.type) {
    case 'open':
      return { type: 'open', n: action.n };
    case 'more-like':
      return { type: 'more-like', n: action.n };
    case 'reroll':
      return { type: 'reroll' };
    case 'start-over':
      return { type: 'start-over' };
  }
}

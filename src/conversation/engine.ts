import { resultActions } from '../core/actions.ts';
import { defaultPerAddressLimit } from '../core/defaults.ts';
import { asImageSearchError, ImageSearchError } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import type {
  BotReply,
  ConversationHandler,
  QueryLanguageGuesser,
  QueryRewriter,
  RateBuckets,
  SearchAction,
  SearchRequest,
  SearchService,
  StateStore,
} from '../core/types.ts';
import { MemoryBuckets, RateLimiter } from '../state/rate-limit.ts';
import { isStateAvailable, neverThrowing } from '../state/state-store.ts';
import { createConcurrencyLimiter } from '../util/locks.ts';
import { cleanQuery, MAX_QUERY_CHARS } from '../util/query-text.ts';
import {
  type ConversationState,
  conversationKey,
  isBlank,
  newConversation,
  parseConversationState,
} from './conversation-state.ts';
import { helpText, MSG } from './messages.ts';
import { type ParsedMessage, parseMessage } from './parse-message.ts';
import { SearchSteps } from './search-steps.ts';

/** Options of {@link ConversationEngine}. */
export interface ConversationEngineOptions {
  search: SearchService;
  state: StateStore;
  /** Gemini query rewriter; without it refinements are merged deterministically. */
  rewriter?: QueryRewriter | undefined;
  /** Tells queries in other languages apart (rewritten to English, or a note without a rewriter). */
  language?: QueryLanguageGuesser | undefined;
  logger: Logger;
  /** RATE_LIMIT_PER_MINUTE: searches per user per minute (token bucket, see src/state/rate-limit.ts). */
  rateLimitPerMinute: number;
  /**
   * RATE_LIMIT_PER_ADDRESS_PER_MINUTE: searches per client address (requests that carry one).
   * Default: 1.5 × the per-user limit, rounded up.
   */
  rateLimitPerAddressPerMinute?: number | undefined;
  /** Where the buckets live: the state store's (shared by replicas) or, by default, this process's. */
  buckets?: RateBuckets | undefined;
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

/** One request being answered, under its conversation's lock. */
interface Turn {
  request: SearchRequest;
  signal: AbortSignal | undefined;
  /** Said before the answer ("your message was long…"). */
  notes: string[];
  /** The conversation as stored, or undefined when there is none (or it is unreadable, or not read: a new search). */
  existing: ConversationState | undefined;
  /** False while the state store is down: then "no conversation" does not mean "expired". */
  memory: boolean;
}

/** How {@link ConversationEngine} runs a conversation's query. */
interface RunOptions {
  /** "4 more": the query has not changed, so the stored vector is reused instead of re-encoded. */
  reuseVector?: boolean;
  /** The request was already charged against the rate limit (query by image charges up front). */
  charged?: boolean;
  /** An uploaded image: the pipeline encodes it as the conversation's image side. */
  image?: Buffer;
}

const notice = (text: string, level: 'info' | 'warn' | 'error' = 'info', ephemeral?: boolean): BotReply =>
  ephemeral ? { kind: 'notice', text, level, ephemeral } : { kind: 'notice', text, level };

/**
 * The conversation engine: one `handle` for every adapter. It never throws: every failure becomes a
 * short notice (details logged).
 *
 * Per request: the text is cleaned and capped (the one place it is); the intent is read; then, under
 * the conversation's lock, one handler per intent answers and saves the new state. Repeated
 * deliveries never reach it: the request flow every adapter runs (adapters/kit/request-flow.ts)
 * claims each delivery once, with the guard in ./idempotency.ts.
 */
export class ConversationEngine implements ConversationHandler {
  readonly #o: ConversationEngineOptions;
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #maxChars: number;
  readonly #state: StateStore;
  readonly #rate: RateLimiter;
  readonly #steps: SearchSteps;

  constructor(opts: ConversationEngineOptions) {
    this.#o = opts;
    this.#log = opts.logger.child({ component: 'conversation' });
    this.#now = opts.now ?? Date.now;
    this.#maxChars = opts.maxQueryChars ?? MAX_QUERY_CHARS;
    this.#state = neverThrowing(opts.state, this.#log);
    this.#rate = new RateLimiter(opts.buckets ?? new MemoryBuckets({ now: this.#now }), {
      perUser: opts.rateLimitPerMinute,
      perAddress: opts.rateLimitPerAddressPerMinute ?? defaultPerAddressLimit(opts.rateLimitPerMinute),
    });
    this.#steps = new SearchSteps({
      search: opts.search,
      rewriter: opts.rewriter,
      language: opts.language,
      logger: this.#log,
      limiter: createConcurrencyLimiter({
        max: opts.maxConcurrent,
        // Stryker disable next-line ConditionalExpression: an undefined option falls back to the limiter's own default, as leaving it out does
        ...(opts.maxQueue !== undefined ? { maxQueue: opts.maxQueue } : {}),
        // Stryker disable next-line ConditionalExpression: as above
        ...(opts.maxWaitMs !== undefined ? { maxWaitMs: opts.maxWaitMs } : {}),
      }),
      rewriteTimeoutMs: opts.rewriteTimeoutMs ?? 1500,
      openWidth: opts.openWidth ?? 1600,
    });
  }

  async handle(request: SearchRequest, signal?: AbortSignal): Promise<BotReply> {
    const started = this.#now();
    const notes: string[] = [];
    let intentType = 'unknown';
    try {
      const intent = this.#readIntent(request, notes);
      if ('kind' in intent) return intent;
      intentType = intent.type;
      if (intent.type === 'help') return notice(helpText());
      const reply = await this.#state.withLock(conversationKey(request.conversationId), () =>
        this.#locked(request, intent, notes, signal),
      );
      this.#log.info(
        {
          conversationId: request.conversationId,
          intent: intentType,
          reply: reply.kind,
          ms: this.#now() - started,
        },
        'handled',
      );
      return reply;
    } catch (e) {
      return this.#errorReply(e, request, intentType);
    }
  }

  /** Buttons, uploads or words → what is asked; a notice when there is nothing to ask. */
  #readIntent(request: SearchRequest, notes: string[]): Intent | BotReply {
    if (request.action) return fromAction(request.action);
    const clean = cleanQuery(request.text, this.#maxChars);
    if (clean.truncated) notes.push(MSG.truncated(this.#maxChars));
    if (request.image)
      return { type: 'image', bytes: request.image.bytes, caption: clean.hasWords ? clean.text : '' };
    if (clean.text === '') return notice(MSG.empty);
    if (!clean.hasWords) return notice(MSG.emojiOnly);
    return parseMessage(clean.text);
  }

  /** Runs under the conversation lock; a failure is the user's notice here, before the lock is released. */
  async #locked(
    request: SearchRequest,
    intent: Exclude<Intent, { type: 'help' }>,
    notes: string[],
    signal: AbortSignal | undefined,
  ): Promise<BotReply> {
    try {
      return await this.#answer(request, intent, notes, signal);
    } catch (e) {
      return this.#errorReply(e, request, intent.type);
    }
  }

  async #answer(
    request: SearchRequest,
    intent: Exclude<Intent, { type: 'help' }>,
    notes: string[],
    signal: AbortSignal | undefined,
  ): Promise<BotReply> {
    // A new search (words outside a result thread, an image, "start over") replaces the
    // conversation without reading it: one state-store round trip less on the most common request.
    const fresh = ['new', 'image', 'start-over'].includes(intent.type);
    const reads = intent.type === 'refine' ? request.followUp === true : !fresh;
    const turn: Turn = {
      request,
      signal,
      notes,
      existing: reads
        ? parseConversationState(await this.#state.get(conversationKey(request.conversationId)))
        : undefined,
      memory: isStateAvailable(this.#o.state),
    };
    switch (intent.type) {
      case 'start-over':
        return this.#startOver(turn);
      case 'new':
        return this.#fresh(turn, intent.text, intent.negatives);
      case 'image':
        return this.#image(turn, intent);
      case 'refine':
        return this.#refine(turn, intent);
      case 'open':
      case 'more-like':
      case 'next':
        return this.#onPicks(turn, intent);
    }
  }

  /** A blank state (not a deletion), so the next message in this thread starts a search. */
  async #startOver(turn: Turn): Promise<BotReply> {
    await this.#save(turn, newConversation(turn.request.userId, this.#now()));
    return notice(MSG.startOver);
  }

  async #fresh(turn: Turn, text: string, negatives: string[]): Promise<BotReply> {
    if (text === '') return notice(MSG.empty);
    const conv = newConversation(turn.request.userId, this.#now());
    const words = await this.#understand(turn, text);
    return this.#run(turn, { ...conv, original: text, negatives, ...words });
  }

  /** The words CLIP reads (English), noting for the user what happened to words in another language. */
  async #understand(turn: Turn, text: string): Promise<Pick<ConversationState, 'queryText' | 'language'>> {
    const u = await this.#steps.understand(text, turn.signal);
    if (u.note) turn.notes.push(u.note);
    return u.language ? { queryText: u.queryText, language: u.language } : { queryText: u.queryText };
  }

  /** Query by image: the upload is the image side of a new conversation; its caption the text side. */
  async #image(turn: Turn, intent: Extract<Intent, { type: 'image' }>): Promise<BotReply> {
    await this.#chargeRate(turn.request);
    await this.#steps.checkImage(intent.bytes);
    const conv: ConversationState = {
      ...newConversation(turn.request.userId, this.#now()),
      original: intent.caption,
      ...(intent.caption ? await this.#understand(turn, intent.caption) : {}),
      anchorLabel: 'your image',
    };
    return this.#run(turn, conv, { charged: true, image: intent.bytes });
  }

  /** Words said in a result thread refine its search; anywhere else they start one. */
  async #refine(turn: Turn, intent: Extract<Intent, { type: 'refine' }>): Promise<BotReply> {
    const { request, existing } = turn;
    if (!request.followUp || !existing || isBlank(existing)) {
      // A follow-up to a conversation we don't know: expired, unless memory is down (then answer anyway).
      if (request.followUp && !existing && turn.memory) return notice(MSG.expired);
      if (request.followUp && !existing) turn.notes.push(MSG.noMemoryFresh);
      return this.#fresh(turn, intent.text, intent.negatives);
    }
    const refined = await this.#steps.refine(existing, intent.text, intent.negatives, turn.signal);
    if (refined.note) turn.notes.push(refined.note);
    return this.#run(turn, refined.conv);
  }

  /** "open N", "more like N" and "4 more": each needs the last grid of this conversation. */
  async #onPicks(
    turn: Turn,
    intent: Extract<Intent, { type: 'open' | 'more-like' | 'next' }>,
  ): Promise<BotReply> {
    const { request, existing } = turn;
    if (!existing || existing.lastPicks.length === 0) {
      if (!turn.memory) return notice(MSG.noMemory, 'warn');
      if (existing) return notice(MSG.noSearchYet);
      return notice(request.followUp || request.action ? MSG.expired : MSG.noSearchYet);
    }
    if (intent.type === 'next') return this.#run(turn, existing, { reuseVector: true });
    const count = existing.lastPicks.length;
    if (intent.n < 1 || intent.n > count) return notice(MSG.noSuchPick(intent.n, count));
    if (intent.type === 'open')
      return (await this.#steps.open(existing, intent.n, turn.signal)) ?? notice(MSG.pickGone);
    const moved = await this.#steps.moveToPick(existing, intent.n);
    return moved ? this.#run(turn, moved) : notice(MSG.pickGone);
  }

  /** Runs the conversation's query, saves the new state and answers with the grid. */
  async #run(turn: Turn, conv: ConversationState, opts: RunOptions = {}): Promise<BotReply> {
    if (!opts.charged) await this.#chargeRate(turn.request);
    const result = await this.#steps.run(
      conv,
      { reuseVector: opts.reuseVector === true, image: opts.image },
      turn.signal,
    );
    await this.#save(turn, result.conv);
    if (!result.reply) return notice(MSG.noMoreResults);
    return {
      kind: 'results',
      text: [...turn.notes, result.reply.caption].filter(Boolean).join('\n'),
      reply: result.reply,
      actions: resultActions(result.reply.picks.length),
    };
  }

  async #save(turn: Turn, conv: ConversationState): Promise<void> {
    const { retainMs } = turn.request;
    // A conversation kept only briefly (a web session's first turn) is kept only with results to go on.
    if (retainMs !== undefined && (retainMs <= 0 || conv.lastPicks.length === 0)) return;
    const ttlMs = retainMs ?? this.#o.ttlMs;
    const key = conversationKey(turn.request.conversationId);
    await this.#state.set(key, { ...conv, updatedAt: this.#now() }, ttlMs);
  }

  async #chargeRate(request: SearchRequest): Promise<void> {
    const decision = await this.#rate.take(request);
    if (!decision.ok) {
      const seconds = Math.max(1, Math.ceil(decision.retryAfterMs / 1000));
      throw new ImageSearchError('rate_limited', MSG.rateLimited(seconds), { detail: request.userId });
    }
  }

  #errorReply(e: unknown, request: SearchRequest, intent: string): BotReply {
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
        this.#log.info(context, err.message);
        return notice(err.userMessage, 'warn', err.code === 'rate_limited');
      case 'image_invalid':
        this.#log.info({ ...context, err }, 'unreadable image');
        return notice(MSG.imageUnreadable, 'warn');
      case 'image_too_large':
      case 'query_invalid':
        this.#log.info({ ...context, err }, 'rejected request');
        return notice(err.userMessage, 'warn');
      default:
        this.#log.error({ ...context, err }, 'request failed');
        return notice(err.userMessage, 'error');
    }
  }
}

function fromAction(action: SearchAction): Intent {
  switch (action.type) {
    case 'open':
      return { type: 'open', n: action.n };
    case 'more-like':
      return { type: 'more-like', n: action.n };
    case 'next':
      return { type: 'next' };
    case 'start-over':
      return { type: 'start-over' };
  }
}

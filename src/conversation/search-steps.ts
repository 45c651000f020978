import { DEFAULTS } from '../core/defaults.ts';
import { asImageSearchError, ImageSearchError } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import type {
  BotReply,
  IndexEntry,
  QueryLanguageGuesser,
  QueryRewriter,
  SearchQuery,
  SearchReply,
  SearchService,
} from '../core/types.ts';
import { withDeadline } from '../util/deadline.ts';
import { firstHttpLink } from '../util/links.ts';
import type { ConcurrencyLimiter } from '../util/locks.ts';
import { cleanQuery } from '../util/query-text.ts';
import { type ConversationState, displayQuery, MAX_SHOWN_IDS } from './conversation-state.ts';
import { MSG } from './messages.ts';
import { mergeQuery } from './parse-message.ts';

export interface SearchStepsOptions {
  search: SearchService;
  rewriter?: QueryRewriter | undefined;
  /** Tells queries in other languages apart; without it every query is taken as English. */
  language?: QueryLanguageGuesser | undefined;
  logger: Logger;
  limiter: ConcurrencyLimiter;
  rewriteTimeoutMs: number;
  openWidth: number;
}

/** Results shown per grid. */
export const PICKS_PER_GRID = DEFAULTS.perGrid;

/** What CLIP should read for a user's words, and what to tell them about it. */
export interface Understood {
  queryText: string;
  /** The words' language when it is not English. */
  language?: string;
  note?: string;
}

/**
 * The conversation steps that talk to the search core: building the effective query, running it,
 * rewriting refinements and fetching an opened image. State in, new state out; no storage here.
 */
export class SearchSteps {
  readonly #o: SearchStepsOptions;

  constructor(opts: SearchStepsOptions) {
    this.#o = opts;
  }

  /**
   * Runs the conversation's query, excluding everything already shown; the pipeline encodes it.
   * Returns the updated state and the reply, or no reply when nothing is left to show.
   * `reuseVector` ("4 more": the query has not changed) hands over the stored vector instead;
   * `image` is an upload that becomes the conversation's image side.
   */
  async run(
    conv: ConversationState,
    opts: { reuseVector: boolean; image?: Buffer | undefined },
    signal?: AbortSignal,
  ): Promise<{ conv: ConversationState; reply?: SearchReply }> {
    const { search, limiter } = this.#o;
    const reuse = opts.reuseVector && conv.vector ? Float32Array.from(conv.vector) : undefined;
    // Stryker disable next-line ConditionalExpression,BooleanLiteral: the step's own precondition; the engine answers MSG.empty before every path that could reach it with nothing to search (test/conversation/engine-retain.test.ts)
    if (!reuse && !opts.image && !conv.queryText && !conv.anchor)
      throw new ImageSearchError('query_invalid', MSG.empty);
    return limiter.run(async () => {
      const query: SearchQuery = {
        text: displayQuery(conv),
        clipText: conv.queryText,
        negatives: conv.negatives,
        exclude: new Set(conv.shownIds),
        want: PICKS_PER_GRID,
        // Without words there is nothing for the reranker to judge against: keep CLIP order.
        ...(conv.queryText ? {} : { rerank: false }),
      };
      if (reuse) query.vector = reuse;
      else if (opts.image) query.image = opts.image;
      else if (conv.anchor) query.anchor = Float32Array.from(conv.anchor);
      const { vector, imageVector, ...reply } = await search.search(query, signal);
      const next: ConversationState = { ...conv };
      if (vector) next.vector = Array.from(vector);
      if (imageVector) next.anchor = Array.from(imageVector);
      if (reply.picks.length === 0) return { conv: next };
      next.shownIds = [...conv.shownIds, ...reply.picks.map((p) => p.id)].slice(-MAX_SHOWN_IDS);
      next.lastPicks = reply.picks.map((p) => ({ id: p.id, score: p.score }));
      return { conv: next, reply };
    });
  }

  /**
   * A new query's words as CLIP should read them: English as it is; another language rewritten to
   * English by the rewriter (the user is told what was searched), or, without one, searched as it is
   * with a note that results may be weaker. English queries cost no call at all.
   */
  async understand(text: string, signal?: AbortSignal): Promise<Understood> {
    const guess = await this.#guess(text);
    if (guess.english) return { queryText: text };
    const language = guess.language ?? 'other';
    const english = await this.#askRewriter(text, [], signal, { translate: true });
    if (!english) return { queryText: text, note: MSG.notEnglish };
    // Gemini kept the words (a name, a loan word): they are what CLIP should read, nothing to say.
    if (english.toLowerCase() === text.toLowerCase()) return { queryText: text };
    return { queryText: english, language, note: MSG.translated(english) };
  }

  /**
   * Applies a text refinement and/or negative terms; the query text is rewritten (in English) or
   * merged. A refinement in another language marks the conversation as such, so captions keep the
   * user's words.
   */
  async refine(
    conv: ConversationState,
    text: string,
    negatives: readonly string[],
    signal?: AbortSignal,
  ): Promise<{ conv: ConversationState; note?: string }> {
    const next: ConversationState = { ...conv };
    next.negatives = [...new Set([...conv.negatives, ...negatives])];
    if (text === '') return { conv: next };
    next.refinements = [...conv.refinements, text];
    const guess = await this.#guess(text);
    if (!guess.english) next.language = conv.language ?? guess.language ?? 'other';
    next.queryText = await this.#rewrite(conv.original, next.refinements, signal);
    return !guess.english && !this.#o.rewriter ? { conv: next, note: MSG.notEnglish } : { conv: next };
  }

  /** "More like N": the pick's image embedding becomes the image side of the query. */
  async moveToPick(conv: ConversationState, n: number): Promise<ConversationState | undefined> {
    const pick = conv.lastPicks[n - 1];
    const vector = pick ? await this.#o.search.getVector(pick.id) : undefined;
    if (!vector) return undefined;
    return { ...conv, anchor: Array.from(vector), anchorLabel: `more like #${n}` };
  }

  /** "Open N": the pick full size with credit and link; the image is left out if it cannot be fetched. */
  async open(conv: ConversationState, n: number, signal?: AbortSignal): Promise<BotReply | undefined> {
    const { search, logger, openWidth } = this.#o;
    const last = conv.lastPicks[n - 1];
    const entry = last ? await search.getEntry(last.id) : undefined;
    if (!last || !entry) return undefined;
    const pick = { id: last.id, score: last.score, entry, n };
    const text = openText(n, entry);
    try {
      const bytes = await search.getImage(entry, openWidth, signal);
      const mime = sniffMime(bytes);
      const ext = mime === 'image/png' ? 'png' : mime === 'image/webp' ? 'webp' : 'jpg';
      return {
        kind: 'open',
        text,
        pick,
        image: { bytes, mime, fileName: `imagesearch-${safeName(entry.id)}.${ext}` },
      };
    } catch (err) {
      logger.warn({ err, id: entry.id }, 'could not fetch the full-size image; sending the link only');
      return { kind: 'open', text, pick };
    }
  }

  /**
   * Refuses an upload the pipeline would not read, from its header alone and before a search slot
   * is taken (every chat platform's images pass here). Unreadable images become `image_invalid`.
   */
  async checkImage(bytes: Buffer): Promise<void> {
    try {
      await this.#o.search.checkImage(bytes);
    } catch (e) {
      const err = asImageSearchError(e);
      if (err.code === 'image_too_large') throw err;
      throw new ImageSearchError('image_invalid', MSG.imageUnreadable, { cause: e });
    }
  }

  /** Standalone query from the rewriter under its deadline, else the deterministic merge. */
  async #rewrite(original: string, refinements: string[], signal?: AbortSignal): Promise<string> {
    // Each part was capped on entry; the merge of several is capped again to stay a query.
    const merged = cleanQuery(mergeQuery(original, refinements)).text;
    if (original === '') return merged;
    return (await this.#askRewriter(original, refinements, signal)) ?? merged;
  }

  /** The rewriter's answer under its deadline, cleaned like a user's words; undefined if none. */
  async #askRewriter(
    original: string,
    refinements: string[],
    signal: AbortSignal | undefined,
    opts: { translate?: boolean } = {},
  ): Promise<string | undefined> {
    const { rewriter, rewriteTimeoutMs, logger } = this.#o;
    if (!rewriter) return undefined;
    try {
      // Signalled and raced: a rewriter that ignores its signal must not hold the user up.
      const outcome = await withDeadline(
        rewriteTimeoutMs,
        signal,
        (s) => rewriter.rewrite(original, refinements, s, opts),
        'rewrite',
      );
      // The rewriter is an outside voice: its answer is cleaned like a user's words.
      const clean = cleanQuery(outcome.ok ? outcome.value : undefined);
      if (clean.hasWords) return clean.text;
      logger.debug({ original }, 'rewriter gave nothing usable; merged instead');
    } catch (err) {
      logger.warn({ err }, 'query rewrite failed; merged instead');
    }
    return undefined;
  }

  async #guess(text: string): Promise<{ english: boolean; language?: string }> {
    const { language, logger } = this.#o;
    if (!language || text === '') return { english: true };
    try {
      return await language.guess(text);
    } catch (err) {
      // A broken detector must not stop a search: the query is taken as English.
      logger.warn({ err }, 'language check failed; searching as written');
      return { english: true };
    }
  }
}

function openText(n: number, entry: IndexEntry): string {
  const lines = [`#${n}${entry.description ? ` — ${entry.description}` : ''}`];
  if (entry.credit) lines.push(`Photo by ${entry.credit.name}`);
  const link = firstHttpLink(entry.pageUrl, entry.url, entry.credit?.url);
  if (link) lines.push(link);
  return lines.join('\n');
}

function sniffMime(bytes: Buffer): string {
  if (bytes[0] === 0x89 && bytes[1] === 0x50) return 'image/png';
  if (
    bytes.subarray(0, 4).toString('latin1') === 'RIFF' &&
    bytes.subarray(8, 12).toString('latin1') === 'WEBP'
  ) {
    return 'image/webp';
  }
  return 'image/jpeg';
}

function safeName(id: string): string {
  return id.replace(/[^\w-]+/g, '_').slice(0, 60);
}

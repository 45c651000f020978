import Keyv from 'keyv';
import { LRUCache } from 'lru-cache';
import { DEFAULTS } from '../core/defaults.ts';
import { asImageSearchError, ImageSearchError } from '../core/errors.ts';
import type {
  Embedder,
  GridImage,
  GridRenderer,
  Hit,
  ImageStore,
  IndexEntry,
  Pick,
  RerankCandidate,
  Reranker,
  RerankResult,
  SearchQuery,
  SearchReply,
  SearchService,
  VectorIndex,
} from '../core/types.ts';
import { gridFileName } from '../grid/grid-renderer.ts';
import { allowFanOut, withDeadline } from '../util/deadline.ts';
import type { Logger } from '../util/logger.ts';
import { stripUndefined } from '../util/objects.ts';
import { DEFAULT_NEAR_DUPLICATE_COSINE, distinctCandidates } from './near-duplicates.ts';
import { encodeQuery } from './query-vector.ts';

/** Options of {@link SearchPipeline}; anything left out takes {@link SEARCH_DEFAULTS}. */
export interface SearchPipelineOptions {
  embedder: Embedder;
  index: VectorIndex;
  grid: GridRenderer;
  images: ImageStore;
  reranker?: Reranker;
  logger: Logger;
  /** Candidates taken from CLIP before reranking. */
  candidates?: number;
  /** Hits scoring below this cosine are not shown (junk floor); -1 disables. */
  minScore?: number;
  /**
   * Cosine between two photos' embeddings at or above which the lower one is a near-duplicate and
   * is skipped (bursts, re-uploads, re-encodes); above 1 turns suppression off. Default 0.98.
   */
  nearDuplicateCosine?: number;
  /**
   * Width of each image fetched: the grid tile, and (resized down) the reranker's thumbnail, so a
   * search fetches each candidate once.
   */
  tileFetchWidth?: number;
  /** Deadline for fetching the grid's images; late ones become placeholder tiles. */
  tileTimeoutMs?: number;
  /** Cache sizes (entries). */
  embeddingCacheSize?: number;
  rerankCacheSize?: number;
}

export const SEARCH_DEFAULTS = {
  candidates: 10,
  want: DEFAULTS.perGrid,
  minScore: DEFAULTS.minScore,
  nearDuplicateCosine: DEFAULT_NEAR_DUPLICATE_COSINE,
  tileFetchWidth: 640,
  tileTimeoutMs: 3000,
  embeddingCacheSize: 5000,
  rerankCacheSize: 2000,
} as const;

/**
 * The one search pipeline every adapter uses: encode → exact top-k → rerank → grid, each stage
 * timed. Query embeddings and rerank orders are cached in keyv (LRU in memory), keyed by model, so a
 * repeated query or "4 more" costs neither an encode nor a Gemini call.
 */
export class SearchPipeline implements SearchService {
  private readonly embeddings: Keyv<Float32Array>;
  private readonly reranks: Keyv<RerankResult>;
  /** Photo embeddings met in searches, for near-duplicate checks (512 floats = 2 KB each). */
  private readonly vectorCache: LRUCache<string, Float32Array>;
  private readonly o: SearchPipelineOptions & typeof SEARCH_DEFAULTS;

  constructor(options: SearchPipelineOptions) {
    this.o = { ...SEARCH_DEFAULTS, ...stripUndefined(options) } as SearchPipelineOptions &
      typeof SEARCH_DEFAULTS;
    // In-memory keyv stores: values kept as they are (no JSON), so a cached query costs ~2 KB, not ~50 KB.
    // Each has its own LRU, so they need no namespace to keep apart.
    this.embeddings = new Keyv<Float32Array>({
      store: new LRUCache<string, string | object>({ max: this.o.embeddingCacheSize }),
    });
    this.reranks = new Keyv<RerankResult>({
      store: new LRUCache<string, string | object>({ max: this.o.rerankCacheSize }),
    });
    this.vectorCache = new LRUCache<string, Float32Array>({ max: this.o.embeddingCacheSize });
    for (const cache of [this.embeddings, this.reranks]) {
      cache.serialize = undefined;
      cache.deserialize = undefined;
    }
    if (options.index.modelId !== options.embedder.modelId || options.index.dim !== options.embedder.dim) {
      throw new ImageSearchError(
        'index_model_mismatch',
        `The index was built with "${options.index.modelId}" (${options.index.dim}-d) but the model is "${options.embedder.modelId}" (${options.embedder.dim}-d).`,
      );
    }
  }

  get modelId(): string {
    return this.o.embedder.modelId;
  }

  /** Encodes (or takes from the cache) query text, cleaned where it entered (src/util/query-text.ts). */
  async embedText(text: string): Promise<Float32Array> {
    const key = `${this.o.embedder.modelId}\u0000${text}`;
    const cached = await this.embeddings.get(key);
    // Copies out and in: callers may blend or normalise the vector in place.
    if (cached) return cached.slice();
    const [vector] = await this.o.embedder.embedTexts([text]);
    await this.embeddings.set(key, vector!.slice());
    return vector!;
  }

  async checkImage(bytes: Buffer): Promise<void> {
    try {
      await this.o.embedder.checkImage(bytes);
    } catch (e) {
      throw unreadable(e);
    }
  }

  getEntry(id: string): Promise<IndexEntry | undefined> {
    return this.o.index.getEntry(id);
  }

  getVector(id: string): Promise<Float32Array | undefined> {
    return this.o.index.getVector(id);
  }

  getImage(entry: IndexEntry, width: number, signal?: AbortSignal): Promise<Buffer> {
    return this.o.images.get(entry, width, signal);
  }

  async search(query: SearchQuery, signal?: AbortSignal): Promise<SearchReply> {
    const t0 = performance.now();
    const timings: SearchReply['timingsMs'] = {};
    // Cleaned and capped where it entered the core; trusted here.
    const text = query.text;
    const want = Math.max(1, Math.min(query.want ?? SEARCH_DEFAULTS.want, 9));

    let t = performance.now();
    const encoded = await encodeQuery(query, {
      text: (words) => this.embedText(words),
      image: (bytes) => this.embedImage(bytes),
    });
    timings.encode = ms(t);
    signal?.throwIfAborted();

    t = performance.now();
    const candidates = Math.max(want, query.candidates ?? this.o.candidates);
    const { hits, nearDuplicates } = await this.candidates(encoded.vector, candidates, query.exclude);
    timings.search = ms(t);
    signal?.throwIfAborted();

    t = performance.now();
    const compose = query.compose !== false;
    const tile = this.tileFetcher(signal);
    // While Gemini thinks, fetch every candidate's tile: whichever 4 it picks are then ready, so a
    // reply lands within a few ms of the rerank deadline instead of a tile fetch later. Gemini's
    // thumbnails are made from the same bytes: one fetch per candidate.
    let clipGrid: { ids: string; grid: Promise<GridImage> } | undefined;
    let prepareClipGrid: NodeJS.Timeout | undefined;
    if (compose && this.willRerank(text, hits, want, query)) {
      allowFanOut(signal, hits.length);
      for (const h of hits) void tile(h);
      // CLIP's own grid, composed shortly before the rerank deadline ends: a rerank that runs out of
      // time (or agrees with CLIP) is then answered at once, instead of by a render after the
      // deadline, which a busy machine slows several times. Not earlier: it would compete with the
      // reranker's own thumbnails, inside its deadline, and mostly be thrown away.
      const clipPicks = hits.slice(0, want).map((h, i): Pick => ({ ...h, n: i + 1 }));
      const left = this.rerankTimeLeft(t0);
      prepareClipGrid = setTimeout(
        () => {
          clipGrid = { ids: idsOf(clipPicks), grid: this.compose(text, clipPicks, tile, query.format) };
          clipGrid.grid.catch(() => undefined);
        },
        left === undefined ? 0 : Math.max(0, left - CLIP_GRID_LEAD_MS),
      );
    }
    const job: RankJob = { text, hits, want, query, tile: compose ? tile : undefined };
    const ranked = await this.rankInTime(t0, job, signal).finally(() => clearTimeout(prepareClipGrid));
    timings.rerank = ms(t);
    const picks = picksOf(ranked, hits, want);

    t = performance.now();
    const grid = !compose
      ? EMPTY_GRID
      : clipGrid && clipGrid.ids === idsOf(picks)
        ? await clipGrid.grid
        : await this.compose(text, picks, tile, query.format);
    timings.compose = ms(t);
    timings.total = ms(t0);

    const reply: SearchReply = {
      query: text,
      picks,
      grid: grid.bytes,
      mime: grid.mime,
      fileName: gridFileName(text, grid.mime),
      caption: caption(text, picks),
      rankedBy: ranked.rankedBy,
      timingsMs: timings,
      candidates: hits.map((h) => ({ id: h.id, score: h.score })),
      vector: encoded.vector,
    };
    if (encoded.imageVector) reply.imageVector = encoded.imageVector;
    if (nearDuplicates > 0) reply.nearDuplicates = nearDuplicates;
    if (ranked.fallbackReason) reply.fallbackReason = ranked.fallbackReason;
    this.o.logger.debug(
      { query: text, picks: picks.map((p) => p.id), rankedBy: reply.rankedBy, timings },
      'search',
    );
    return reply;
  }

  /** An uploaded image's embedding; its header is checked before anything is decoded. */
  private async embedImage(bytes: Buffer): Promise<Float32Array> {
    await this.checkImage(bytes);
    try {
      const [vector] = await this.o.embedder.embedImages([bytes]);
      return vector!;
    } catch (e) {
      throw unreadable(e);
    }
  }

  /** One fetch per candidate and search: the grid tile and Gemini's thumbnail share it. */
  private tileFetcher(signal: AbortSignal | undefined): (h: Hit) => Promise<Buffer | null> {
    const tiles = new Map<string, Promise<Buffer | null>>();
    return (h) => {
      let p = tiles.get(h.id);
      if (!p) {
        p = this.fetchTile(h, signal);
        tiles.set(h.id, p);
      }
      return p;
    };
  }

  /**
   * The best `want` candidates above the junk floor, near-duplicates left out: of each other and of
   * the photos already shown (`exclude`: "4 more" must not bring back a near-copy of an earlier
   * pick). The pool widens until `want` distinct ones are found or the index has no more.
   */
  private async candidates(
    vector: Float32Array,
    want: number,
    exclude: ReadonlySet<string> | undefined,
  ): Promise<{ hits: Hit[]; nearDuplicates: number }> {
    const searchOpts = exclude ? { exclude } : {};
    const threshold = this.o.nearDuplicateCosine;
    if (threshold > 1) {
      const hits = await this.o.index.search(vector, want, searchOpts);
      return { hits: hits.filter((h) => h.score >= this.o.minScore), nearDuplicates: 0 };
    }
    // The latest shown photos are the ones a near-copy would repeat; the cap bounds the work per search.
    const avoidIds = [...(exclude ?? [])].slice(-MAX_AVOIDED);
    const avoidVectors = await this.vectorsOf(avoidIds);
    const avoid = avoidIds.flatMap((id) => {
      const v = avoidVectors.get(id);
      return v ? [{ id, vector: v }] : [];
    });
    let k = want * POOL_WIDENING;
    for (;;) {
      const raw = await this.o.index.search(vector, k, { ...searchOpts, withVectors: true });
      const floor = raw.filter((h) => h.score >= this.o.minScore);
      for (const h of floor) if (h.vector) this.vectorCache.set(h.id, h.vector);
      const vectors = await this.vectorsOf(floor.map((h) => h.id));
      const r = distinctCandidates(floor, (id) => vectors.get(id), { threshold, want, avoid });
      const exhausted = raw.length < k || floor.length < raw.length || k >= want * MAX_POOL_WIDENING;
      if (r.kept.length >= want || exhausted) {
        if (r.dropped.length > 0)
          this.o.logger.debug({ dropped: r.dropped }, 'near-duplicates left out of the candidates');
        // Hits travel on to the reranker and the reply: without their vectors.
        return { hits: r.kept.map(({ vector: _v, ...h }) => h), nearDuplicates: r.dropped.length };
      }
      k *= POOL_WIDENING;
    }
  }

  /**
   * Embeddings of photos, from the search's own hits or the cache where possible: an engine on disk
   * or object storage (LanceDB) answers `getVector` with a read each, so a shown photo's vector is
   * remembered from the search that found it.
   */
  private async vectorsOf(ids: readonly string[]): Promise<Map<string, Float32Array>> {
    const out = new Map<string, Float32Array>();
    await Promise.all(
      ids.map(async (id) => {
        let v = this.vectorCache.get(id);
        if (!v) {
          v = await this.o.index.getVector(id);
          // Stryker disable next-line ConditionalExpression: lru-cache deletes on set(k, undefined): a missing vector reads as missing either way
          if (v) this.vectorCache.set(id, v);
        }
        if (v) out.set(id, v);
      }),
    );
    return out;
  }

  private async rank(job: RankJob, signal: AbortSignal | undefined): Promise<RerankResult> {
    const { text, hits, want, query, tile } = job;
    const clipOrder = (fallbackReason: string): RerankResult => ({
      order: hits.map((h) => h.id),
      rankedBy: 'clip',
      fallbackReason,
    });
    const reranker = this.o.reranker;
    if (query.rerank === false) return clipOrder('rerank_skipped');
    if (!reranker) return clipOrder('reranker_disabled');
    if (!text) return clipOrder('no_query_text');
    if (hits.length <= want) return clipOrder('too_few_candidates');
    const key = `${reranker.modelId}\u0000${text}\u0000${hits.map((h) => h.id).join(',')}\u0000${want}`;
    const cached = await this.reranks.get(key);
    if (cached) return cached;
    const candidates = hits.map((h): RerankCandidate => {
      const c: RerankCandidate = { id: h.id, score: h.score, entry: h.entry };
      // The reranker's deadline ends its wait, not the fetch: the grid may still want the tile.
      if (tile) c.image = (s) => untilAborted(tile(h), s);
      return c;
    });
    const result = await reranker.rerank(text, candidates, want, signal);
    // Only Gemini's answers are worth remembering; a fallback may succeed next time.
    if (result.rankedBy === 'gemini') await this.reranks.set(key, result);
    return result;
  }

  /** What is left of the reranker's deadline, counted from the search's start (undefined: none known). */
  private rerankTimeLeft(t0: number): number | undefined {
    const deadlineMs = this.o.reranker?.deadlineMs;
    return deadlineMs === undefined ? undefined : Math.max(0, deadlineMs - (performance.now() - t0));
  }

  /**
   * {@link rank}, answered by the reranker's deadline counted from the search's start: the encode and
   * the index search before it (slow on a busy machine) come off the reranker's time instead of
   * being added to the user's wait. A reranker still thinking then is abandoned for CLIP's order.
   */
  private async rankInTime(t0: number, job: RankJob, signal: AbortSignal | undefined): Promise<RerankResult> {
    const left = this.rerankTimeLeft(t0);
    if (left === undefined || !this.willRerank(job.text, job.hits, job.want, job.query))
      return this.rank(job, signal);
    const outcome = await withDeadline(left, signal, (s) => this.rank(job, s), 'rerank');
    if (outcome.ok) return outcome.value;
    return { order: job.hits.map((h) => h.id), rankedBy: 'clip', fallbackReason: outcome.reason };
  }

  private willRerank(text: string, hits: Hit[], want: number, query: SearchQuery): boolean {
    // Stryker disable next-line ConditionalExpression,EqualityOperator: with no more candidates than wanted, every candidate is a pick (its tile is fetched anyway) and rank() answers CLIP's order at once
    return Boolean(this.o.reranker) && query.rerank !== false && text !== '' && hits.length > want;
  }

  /** One grid tile's bytes, or null (placeholder) when the image can't be had in time. */
  private async fetchTile(hit: Hit, signal: AbortSignal | undefined): Promise<Buffer | null> {
    try {
      const outcome = await withDeadline(
        this.o.tileTimeoutMs,
        signal,
        (s) => this.o.images.get(hit.entry, this.o.tileFetchWidth, s),
        'tile',
      );
      if (outcome.ok) return outcome.value;
      this.o.logger.warn({ id: hit.id, err: outcome.reason }, 'grid tile unavailable');
    } catch (e) {
      this.o.logger.warn(
        { id: hit.id, err: e instanceof Error ? e.message : String(e) },
        'grid tile unavailable',
      );
    }
    return null;
  }

  private async compose(
    text: string,
    picks: Pick[],
    tile: (h: Hit) => Promise<Buffer | null>,
    format: SearchQuery['format'],
  ): Promise<GridImage> {
    // Nothing to show: an empty grid; callers check `picks.length` and answer in words.
    if (picks.length === 0) return EMPTY_GRID;
    const tiles = await Promise.all(picks.map(async (p) => ({ n: p.n, image: await tile(p) })));
    const footer = text ? [text] : [];
    const credits = creditLine(picks);
    if (credits) footer.push(credits);
    return this.o.grid.render(tiles, format ? { footer, format } : { footer });
  }
}

/** What the reranker is asked: the query's words, the candidates, how many to pick, and their tiles. */
interface RankJob {
  text: string;
  hits: Hit[];
  want: number;
  query: SearchQuery;
  /** The search's one fetch per candidate (Gemini's thumbnails are cut from it); none: no images. */
  tile: ((h: Hit) => Promise<Buffer | null>) | undefined;
}

/**
 * How long before the rerank deadline CLIP's grid is composed: a render takes 20–40 ms on a quiet
 * 2-core machine and several times that beside busy neighbours (`npm run bench -- --busy 2`).
 */
const CLIP_GRID_LEAD_MS = 500;

/** Candidates fetched per wanted one while near-duplicates are being skipped, and the most it grows to. */
const POOL_WIDENING = 3;
const MAX_POOL_WIDENING = 27;
/** Shown photos a new candidate is compared with: the last 10 grids. */
const MAX_AVOIDED = 40;

const EMPTY_GRID: GridImage = { bytes: Buffer.alloc(0), mime: 'image/jpeg', width: 0, height: 0 };

/** The grid footer's credit line, in tile order: "1 Ana Lopez · 2 Ben Ito". */
export function creditLine(picks: Pick[]): string {
  return picks
    .filter((p) => p.entry.credit?.name)
    .map((p) => `${p.n} ${p.entry.credit!.name}`)
    .join(' · ');
}

function caption(text: string, picks: Pick[]): string {
  const head = text ? `Results for “${text}”` : 'Results';
  if (picks.length === 0) return `${head}: nothing good enough to show.`;
  const credits = picks
    .filter((p) => p.entry.credit?.name)
    .map(
      (p) =>
        `${p.n}: Photo by ${p.entry.credit!.name}${p.entry.credit!.source ? ` on ${p.entry.credit!.source}` : ''}`,
    );
  return credits.length ? `${head} — ${credits.join(' · ')}` : head;
}

/** The ranked order as numbered picks, each with Gemini's reason where it gave one. */
function picksOf(ranked: RerankResult, hits: Hit[], want: number): Pick[] {
  const byId = new Map(hits.map((h) => [h.id, h]));
  return ranked.order
    .map((id) => byId.get(id))
    .filter((h): h is Hit => h !== undefined)
    .slice(0, want)
    .map((h, i) => {
      const pick: Pick = { ...h, n: i + 1 };
      const reason = ranked.reasons?.[h.id];
      if (reason) pick.reason = reason;
      return pick;
    });
}

/** An upload that cannot be encoded: too large as said, anything else "could not read it". */
function unreadable(e: unknown): ImageSearchError {
  const err = asImageSearchError(e);
  if (err.code === 'image_too_large' || err.code === 'image_invalid') return err;
  return new ImageSearchError('image_invalid', "I couldn't read that image.", { cause: e });
}

/** `work`'s value, or null once `signal` aborts (the work itself goes on for its other waiters). */
function untilAborted<T>(work: Promise<T | null>, signal: AbortSignal): Promise<T | null> {
  if (signal.aborted) return Promise.resolve(null);
  return new Promise((resolve) => {
    const onAbort = () => resolve(null);
    // Removed when the work settles (a tile fetch always does, by its own deadline).
    signal.addEventListener('abort', onAbort);
    void work.then((v) => {
      signal.removeEventListener('abort', onAbort);
      resolve(v);
    });
  });
}

/** A grid's identity: the same photos in the same places (its footer follows from them and the query). */
function idsOf(picks: readonly Pick[]): string {
  return picks.map((p) => p.id).join('\u0000');
}

function ms(since: number): number {
  return Math.round((performance.now() - since) * 100) / 100;
}

/**
 * Core contracts shared by the search core and every adapter.
 *
 * Adapters (Slack, Discord, web, CLI) turn platform events into {@link SearchRequest}s and turn
 * {@link BotReply}s into platform messages. Everything in between lives in `src/` and never imports
 * platform code. Ports (Embedder, VectorIndex, Reranker, …) are injected so tests can swap in small
 * real implementations.
 */

export type Platform = 'slack' | 'discord' | 'web' | 'cli';

/** An image a user supplied (query by image). Raw bytes, never base64. */
export interface ImageInput {
  bytes: Buffer;
  mime?: string;
  name?: string;
}

/** Things a user can do with a result: buttons, or the same words typed in the thread. */
export type SearchAction =
  | { type: 'open'; n: number }
  | { type: 'more-like'; n: number }
  /** "4 more": the next results of the same query not shown yet (button id `is:reroll` on the wire). */
  | { type: 'next' }
  | { type: 'start-over' };

/** One normalised request from any platform. */
export interface SearchRequest {
  platform: Platform;
  /** Platform-prefixed: `slack:T1:C1:1700000000.0001`, `discord:GUILD:THREAD`, `web:SESSION`. */
  conversationId: string;
  /** Platform-prefixed user id (`slack:U123`), used for ownership and rate limits. */
  userId: string;
  /** Free text: a new query, or a follow-up in an existing conversation. Already cleaned of markup. */
  text?: string;
  image?: ImageInput;
  action?: SearchAction;
  /** True when the text was said inside an existing result thread (a refinement, not a new search). */
  followUp?: boolean;
  /** Platform delivery id (Slack event_id, Discord interaction/message id) for de-duplication. */
  requestId?: string;
  /**
   * The network address the request came from, where the platform has one (the web chat; Slack and
   * Discord requests come from their own servers). Rate-limited besides the user, so a client that
   * drops its session cookie cannot pose as a new user on every request.
   */
  clientAddress?: string;
  /**
   * How long to keep this conversation when not the engine's TTL (ms): the web chat's first turn of
   * a new session is kept briefly, only once it has results, and not at all past a per-address cap (0).
   */
  retainMs?: number;
}

/** Photographer credit shown under a result: "Photo by NAME on SOURCE". */
export interface Credit {
  name: string;
  url?: string;
  /** Where the photo is published, when its licence asks to name it ("Unsplash"). */
  source?: string;
}

/** One image in the index. */
export interface IndexEntry {
  id: string;
  /** Local file (absolute, or relative to the index's `imagesRoot`). */
  path?: string;
  /** Remote image (for Unsplash: `photo_image_url`, resized by appending `?w=`). */
  url?: string;
  /** Page to link to (Unsplash photo page). */
  pageUrl?: string;
  credit?: Credit;
  description?: string;
  width?: number;
  height?: number;
}

export interface Hit {
  id: string;
  /** Cosine similarity in [-1, 1]. */
  score: number;
  entry: IndexEntry;
  /** The photo's embedding, when the search was asked `withVectors` and the engine had it at hand. */
  vector?: Float32Array;
}

/** A shown result; `n` is the number on its tile (1-based). */
export interface Pick extends Hit {
  n: number;
  reason?: string;
}

export type RankedBy = 'gemini' | 'clip';

export interface SearchTimings {
  encode?: number;
  search?: number;
  rerank?: number;
  compose?: number;
  total?: number;
  [stage: string]: number | undefined;
}

export interface SearchReply {
  /** The effective query text this reply answers. */
  query: string;
  picks: Pick[];
  /** The numbered grid image, ready to upload as a file (empty when there are no picks). */
  grid: Buffer;
  mime: 'image/jpeg' | 'image/png';
  /** Suggested upload file name, e.g. `imagesearch-cats-on-a-sofa.jpg`. */
  fileName: string;
  /** Short text for the message: query and credits. */
  caption: string;
  rankedBy: RankedBy;
  fallbackReason?: string;
  timingsMs: SearchTimings;
  /**
   * Every candidate CLIP found for this grid, best first with its cosine (after the junk floor and
   * near-duplicate suppression): the picks are chosen from these. `imagesearch eval` scores
   * picks-then-the-rest; `imagesearch search --k` lists the rest after the grid.
   */
  candidates?: Array<{ id: string; score: number }>;
  /**
   * The effective query embedding this reply answers (what was encoded, blended and steered), kept
   * by the conversation for "4 more". Not part of what adapters render.
   */
  vector?: Float32Array;
  /** The embedding of {@link SearchQuery.image}, when one was given: the conversation's image side. */
  imageVector?: Float32Array;
  /** Candidates left out as near-duplicates of a better candidate or of a photo already shown. */
  nearDuplicates?: number;
}

/** A button the adapter should render. `id` is stable and round-trips through {@link decodeAction}. */
export interface ReplyAction {
  id: string;
  label: string;
  action: SearchAction;
  style?: 'primary' | 'default';
}

/** What the core answers to a request; adapters render each kind. */
export type BotReply =
  | { kind: 'results'; text: string; reply: SearchReply; actions: ReplyAction[] }
  | { kind: 'open'; text: string; pick: Pick; image?: { bytes: Buffer; mime: string; fileName: string } }
  | { kind: 'notice'; text: string; level: 'info' | 'warn' | 'error'; ephemeral?: boolean };

// ---------------------------------------------------------------------------------------------
// Ports

/** CLIP encoders. Embeddings are L2-normalised Float32Arrays of length `dim`. */
export interface Embedder {
  readonly modelId: string;
  readonly dim: number;
  embedTexts(texts: string[]): Promise<Float32Array[]>;
  embedImages(images: Buffer[]): Promise<Float32Array[]>;
  /**
   * Refuses an image this embedder will not decode, from its header alone (no pixels decoded):
   * `image_too_large` past the query pixel cap, `image_invalid` when unreadable.
   */
  checkImage(bytes: Buffer): Promise<void>;
}

export interface SearchOptions {
  /** Ids to leave out (already shown). */
  exclude?: ReadonlySet<string>;
  /**
   * Attach each hit's embedding where the engine reads it anyway (near-duplicate checks need it):
   * a view of the matrix for flat, the vector column for LanceDB. Hits may still lack one.
   */
  withVectors?: boolean;
}

export interface VectorIndex {
  readonly size: number;
  readonly dim: number;
  readonly modelId: string;
  /** Cosine top-k: exact for the flat and int8 engines, approximate (ANN) for LanceDB. */
  search(query: Float32Array, k: number, opts?: SearchOptions): Promise<Hit[]>;
  /** Async because an engine may read the row from disk or object storage (int8, LanceDB). */
  getEntry(id: string): Promise<IndexEntry | undefined>;
  getVector(id: string): Promise<Float32Array | undefined>;
}

export interface RerankCandidate {
  id: string;
  score: number;
  entry: IndexEntry;
  /**
   * The candidate's image as the pipeline already fetches it for the grid (null: unavailable), so
   * one search fetches each candidate once; without it the reranker asks its own image store.
   */
  image?: (signal: AbortSignal) => Promise<Buffer | null>;
}

export interface RerankUsage {
  promptTokens?: number;
  outputTokens?: number;
  totalTokens?: number;
  estimatedCostUsd?: number;
}

export interface RerankResult {
  /** Candidate ids in display order, `want` long (or fewer if there were fewer candidates). */
  order: string[];
  rankedBy: RankedBy;
  fallbackReason?: string;
  reasons?: Record<string, string>;
  usage?: RerankUsage;
}

export interface Reranker {
  readonly modelId: string;
  /**
   * The longest a rerank may take (its whole deadline). The pipeline composes CLIP's grid shortly
   * before it ends, so a rerank that runs out of time is answered at once; unknown: at the start.
   */
  readonly deadlineMs?: number;
  rerank(
    query: string,
    candidates: RerankCandidate[],
    want: number,
    signal?: AbortSignal,
  ): Promise<RerankResult>;
}

/** Rewrites an original query plus refinements into one standalone query. */
export interface QueryRewriter {
  /**
   * The standalone English query, or undefined (no answer in time, nothing usable). With no
   * refinements it is only asked when `translate` is set: a query in another language.
   */
  rewrite(
    original: string,
    refinements: string[],
    signal?: AbortSignal,
    opts?: { translate?: boolean },
  ): Promise<string | undefined>;
}

/** Is a query English? CLIP understands English best (src/search/query-language.ts). */
export interface QueryLanguageGuesser {
  guess(text: string): Promise<{ english: boolean; language?: string }>;
}

/** Resolves an index entry to image bytes (local file or allowed remote host), with caching. */
export interface ImageStore {
  /** JPEG/PNG/… bytes no wider than `width` where the source allows resizing. Throws on failure. */
  get(entry: IndexEntry, width: number, signal?: AbortSignal): Promise<Buffer>;
}

export interface GridTile {
  /** Image bytes, or null for a placeholder tile (missing or broken image). */
  image: Buffer | null;
  /** Number drawn on the badge. */
  n: number;
}

export interface GridOptions {
  format?: 'jpeg' | 'png';
  /** Optional footer lines (query, credits). */
  footer?: string[];
  /** Maximum output size in bytes (quality is stepped down to fit). */
  maxBytes?: number;
  tileSize?: number;
}

export interface GridImage {
  bytes: Buffer;
  mime: 'image/jpeg' | 'image/png';
  width: number;
  height: number;
}

export interface GridRenderer {
  render(tiles: GridTile[], opts?: GridOptions): Promise<GridImage>;
}

/**
 * Idempotency keys: an atomic set-if-absent with a time to live. One instance serves the
 * conversation engine (request ids) and every adapter that must drop a platform retry before it
 * posts anything (Slack's placeholder, Discord's acknowledgement). Keys are namespaced by the caller.
 */
export interface Dedupe {
  /** True for the first claim of `key` within `ttlMs`, false for every repeat. */
  claim(key: string, ttlMs: number): Promise<boolean>;
}

/** The outcome of taking a token from a {@link RateBuckets} bucket: allowed, or how long until the next. */
export type RateDecision = { ok: true } | { ok: false; retryAfterMs: number };

/**
 * Token buckets by key (rate limits), taken atomically: with a shared backend every replica draws
 * from the same bucket. A bucket holds `perMinute` tokens and refills at `perMinute` a minute.
 */
export interface RateBuckets {
  /** Takes one token from `key`'s bucket, or says how long until one is there. */
  take(key: string, perMinute: number): Promise<RateDecision>;
}

/**
 * Small key-value state with TTL and a per-key lock (keyv underneath). The managed store
 * (src/state/state-store.ts) never throws: while its backend is down, reads answer undefined and
 * writes are dropped.
 */
export interface StateStore {
  get<T>(key: string): Promise<T | undefined>;
  set<T>(key: string, value: T, ttlMs?: number): Promise<void>;
  delete(key: string): Promise<void>;
  /** Runs `fn` while holding an exclusive lock on `key` (across replicas where the backend allows). */
  withLock<T>(key: string, fn: () => Promise<T>): Promise<T>;
}

// ---------------------------------------------------------------------------------------------
// The search pipeline (src/search/search-service.ts implements it; the conversation engine uses it)

/**
 * One search. The pipeline encodes it (the `encode` stage): the image side (`image` encoded, else
 * `anchor`) blended with the text side (`clipText`), then each negative subtracted. A `vector`
 * skips all of that.
 */
export interface SearchQuery {
  /** Text shown to the user and given to the reranker; also CLIP's words unless `clipText` is set. */
  text: string;
  /** The words CLIP reads, when they differ from `text` (a conversation's English query); '' for none. */
  clipText?: string;
  /** Image side, already an embedding ("more like N", an upload from an earlier turn). */
  anchor?: Float32Array;
  /** Image side, an uploaded image to encode (its header is checked first); wins over `anchor`. */
  image?: Buffer;
  /** Words to steer away from ("without X"): each one's text embedding is subtracted. */
  negatives?: readonly string[];
  /** The query already encoded (the conversation's "4 more", a CLI `--vector`): nothing is encoded. */
  vector?: Float32Array;
  /** Ids not to show again. */
  exclude?: ReadonlySet<string>;
  /** How many picks to show (default 4). */
  want?: number;
  /** Candidates from CLIP before reranking (default 10). */
  candidates?: number;
  /** Skip Gemini for this query. */
  rerank?: boolean;
  /** Draw the grid (default true). Evaluation only needs the ranking. */
  compose?: boolean;
  /** Format of the grid (default JPEG). */
  format?: 'jpeg' | 'png';
}

/** The search pipeline as its callers see it (the conversation engine, the CLI, metrics' wrapper). */
export interface SearchService {
  readonly modelId: string;
  search(query: SearchQuery, signal?: AbortSignal): Promise<SearchReply>;
  /**
   * Refuses an uploaded image from its header alone (`image_too_large`, `image_invalid`): callers
   * check before they queue for a search slot; {@link search} checks again before encoding.
   */
  checkImage(bytes: Buffer): Promise<void>;
  getEntry(id: string): Promise<IndexEntry | undefined>;
  getVector(id: string): Promise<Float32Array | undefined>;
  /** Full-size (or large) bytes of one entry, for "open N". */
  getImage(entry: IndexEntry, width: number, signal?: AbortSignal): Promise<Buffer>;
}

/** The conversation engine: one entry point for every adapter. */
export interface ConversationHandler {
  handle(request: SearchRequest, signal?: AbortSignal): Promise<BotReply>;
}

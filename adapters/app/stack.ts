/**
 * Builds a stack from configuration: the search core (model, index, images, Gemini, pipeline),
 * then the state store, the shared dedupe and the conversation engine. The only place that maps
 * `Config` onto the engines' own options.
 */
import path from 'node:path';
import { ClipModel } from '../../src/clip/clip-model.ts';
import { ConversationEngine } from '../../src/conversation/engine.ts';
import { ImageSearchError } from '../../src/core/errors.ts';
import type { ConversationHandler, Dedupe, SearchService } from '../../src/core/types.ts';
import { SharpGridRenderer } from '../../src/grid/grid-renderer.ts';
import { type ImageStoreOptions, LocalAndRemoteImageStore } from '../../src/images/image-store.ts';
import type { LoadedIndex } from '../../src/index/engines/types.ts';
import { openVectorIndex } from '../../src/index/open.ts';
import { photoAccess } from '../../src/index/photo-folder.ts';
import { geminiPrice } from '../../src/metrics/cost.ts';
import { GeminiClient, type GeminiClientOptions } from '../../src/rerank/gemini-client.ts';
import { GeminiReranker } from '../../src/rerank/gemini-reranker.ts';
import { GeminiRewriter } from '../../src/rerank/gemini-rewriter.ts';
import { QueryLanguage } from '../../src/search/query-language.ts';
import { SearchPipeline } from '../../src/search/search-service.ts';
import { createStateStore, type ManagedStateStore } from '../../src/state/state-store.ts';
import type { Config } from '../../src/util/config.ts';
import type { Logger } from '../../src/util/logger.ts';

/** The platform-free core, built from configuration: model, index, images, Gemini, pipeline. */
export interface Core {
  config: Config;
  model: ClipModel;
  index: LoadedIndex;
  images: LocalAndRemoteImageStore;
  /** The one Gemini client; the reranker and the rewriter are its two roles. */
  gemini: GeminiClient;
  reranker: GeminiReranker;
  rewriter: GeminiRewriter;
  /** Tells queries in other languages apart, with the model's own vocabulary first. */
  language: QueryLanguage;
  search: SearchPipeline;
  close(): Promise<void>;
}

export interface CoreOptions {
  /** Load the vision encoder now (serving: image queries and "more like" are then instant). */
  warmVision?: boolean;
  /** Skip Gemini even if a key is configured (CLI --no-rerank). */
  rerank?: boolean;
  /** Told about every Gemini call (metrics). */
  onGeminiCall?: GeminiClientOptions['onCall'];
}

/**
 * Where images may come from: the hosts of the index (or manifest) plus `IMAGE_HOSTS`; only
 * `IMAGE_HOSTS` may use other ports and private addresses. The bot's store and index builds share it.
 */
export function imageHostRules(
  config: Pick<Config, 'imageHosts'>,
  hosts: readonly string[],
): Pick<ImageStoreOptions, 'allowedHosts' | 'trustedHosts'> {
  return { allowedHosts: [...hosts, ...config.imageHosts], trustedHosts: config.imageHosts };
}

/**
 * Image store options: thumbnails cached in `IMAGESEARCH_DATA_DIR/cache/thumbs`, {@link imageHostRules}.
 * The photo folder is the index's only when the operator allows it (IMAGES_DIR,
 * ALLOW_ABSOLUTE_IMAGE_PATHS): an index asking for more is refused (src/index/photo-folder.ts).
 */
export function imageStoreOptions(
  config: Pick<Config, 'dataDir' | 'imageHosts'> &
    Partial<Pick<Config, 'imagesDir' | 'allowAbsoluteImagePaths'>>,
  index: { hosts: readonly string[]; imagesRoot?: string | undefined; allowAbsolutePaths?: boolean },
): Partial<ImageStoreOptions> {
  return {
    ...imageHostRules(config, index.hosts),
    cacheDir: path.join(config.dataDir, 'cache', 'thumbs'),
    ...photoAccess(
      {
        allowedDir: config.imagesDir ?? config.dataDir,
        allowAbsolutePaths: config.allowAbsoluteImagePaths === true,
      },
      index,
    ),
  };
}

/**
 * The Gemini client as configured (GEMINI_API_KEY, GEMINI_MODEL, GEMINI_BASE_URL, GEMINI_TIMEOUT_MS;
 * GEMINI_PRICE_*_PER_MTOK for the cost its log lines estimate).
 */
export function geminiClient(
  config: Pick<
    Config,
    'geminiApiKey' | 'geminiModel' | 'geminiBaseUrl' | 'geminiTimeoutMs' | 'geminiPriceOverride'
  >,
  logger: Logger,
  onCall?: GeminiClientOptions['onCall'],
): GeminiClient {
  const price = geminiPrice(config.geminiModel, config.geminiPriceOverride);
  return new GeminiClient({
    ...(price ? { prices: { [config.geminiModel]: price } } : {}),
    apiKey: config.geminiApiKey,
    model: config.geminiModel,
    baseUrl: config.geminiBaseUrl,
    timeoutMs: config.geminiTimeoutMs,
    logger,
    ...(onCall ? { onCall } : {}),
  });
}

/** The CLIP model as configured (directory, variant, execution provider, threads). */
export function loadModel(config: Config, logger: Logger): Promise<ClipModel> {
  return ClipModel.load({
    dir: config.modelDir,
    variant: config.modelVariant,
    provider: config.executionProvider,
    threads: config.threads,
    logger,
  });
}

/** Loads everything the search pipeline needs; errors are ImageSearchErrors that say what to fix. */
export async function createCore(config: Config, logger: Logger, opts: CoreOptions = {}): Promise<Core> {
  const model = await loadModel(config, logger);
  try {
    // The engine (flat, int8, lancedb) is whichever built the index there.
    const index = await openVectorIndex(config.indexDir, {
      expect: { modelId: model.modelId, dim: model.dim },
      threads: config.threads,
      objectStore: config.objectStore,
      ...config.indexSearch,
    });
    await model.warm(opts.warmVision ? ['text', 'vision'] : ['text']);
    const images = new LocalAndRemoteImageStore({ ...imageStoreOptions(config, index), logger });
    const gemini = geminiClient(config, logger, opts.onGeminiCall);
    const reranker = new GeminiReranker({ gemini, imageStore: images });
    const rewriter = new GeminiRewriter(gemini);
    const language = new QueryLanguage({ knownWord: (w) => model.tokenizer.isWholeWord(w) });
    const search = new SearchPipeline({
      embedder: model,
      index,
      grid: new SharpGridRenderer(),
      images,
      logger,
      minScore: config.minScore,
      nearDuplicateCosine: config.nearDuplicateCosine,
      ...(opts.rerank === false ? {} : { reranker }),
    });
    logger.info(
      {
        model: model.modelId,
        variant: model.variant,
        index: index.size,
        engine: index.engine,
        gemini: gemini.enabled ? config.geminiModel : 'off',
      },
      'search core ready',
    );
    return {
      config,
      model,
      index,
      images,
      gemini,
      reranker,
      rewriter,
      language,
      search,
      async close() {
        await index.close();
        await model.close();
      },
    };
  } catch (e) {
    await model.close();
    throw e;
  }
}

/** Core + state store + dedupe + conversation engine: everything an adapter needs. */
export interface Stack {
  core: Core;
  state: ManagedStateStore;
  /** Idempotency keys shared by the engine and every adapter. */
  dedupe: Dedupe;
  handler: ConversationHandler;
  close(): Promise<void>;
}

/** Hooks for cross-cutting concerns (metrics) that wrap the core's parts without it knowing. */
export interface StackOptions {
  onGeminiCall?: CoreOptions['onGeminiCall'];
  decorateSearch?: (search: SearchService) => SearchService;
  decorateHandler?: (handler: ConversationHandler) => ConversationHandler;
}

/** How long a starting bot waits for its state store before it gives up with a clear message. */
export const STATE_STARTUP_WAIT_MS = 5000;

/**
 * The state store, reachable: a bot that starts without it would answer without memory and, with
 * several replicas, without shared dedupe. The message names STATE_URL, never its value (it may
 * carry a password).
 */
async function reachableState(state: ManagedStateStore): Promise<void> {
  if (await state.whenAvailable(STATE_STARTUP_WAIT_MS)) return;
  await state.close();
  throw new ImageSearchError(
    'state_unavailable',
    `Cannot reach the ${state.backend} state store named by STATE_URL (waited ${STATE_STARTUP_WAIT_MS / 1000} s). ` +
      'Start it, or correct STATE_URL, then start imagesearch again.',
  );
}

export async function createStack(config: Config, logger: Logger, opts: StackOptions = {}): Promise<Stack> {
  // Opened first: Redis connects while the model loads.
  const state = createStateStore({
    url: config.stateUrl,
    dataDir: config.dataDir,
    ttlMs: config.stateTtlMs,
    logger,
  });
  let core: Core;
  try {
    core = await createCore(config, logger, {
      warmVision: true,
      ...(opts.onGeminiCall ? { onGeminiCall: opts.onGeminiCall } : {}),
    });
  } catch (e) {
    await state.close();
    throw e;
  }
  try {
    await reachableState(state);
  } catch (e) {
    await core.close();
    throw e;
  }
  // The language detector loads in the background, so the first query in another language need not wait.
  core.language.warm().catch((err: unknown) => logger.warn({ err }, 'language detector failed to load'));
  // Idempotency keys (for the adapters' request flow) and rate-limit buckets live in the state store:
  // atomic there, so shared by every replica when it is Redis (or every process on the SQLite file),
  // in process while it is down.
  const dedupe = state.dedupe;
  const engine = new ConversationEngine({
    search: opts.decorateSearch ? opts.decorateSearch(core.search) : core.search,
    state,
    buckets: state.buckets,
    rewriter: core.gemini.enabled ? core.rewriter : undefined,
    language: core.language,
    logger,
    rateLimitPerMinute: config.rateLimitPerMinute,
    rateLimitPerAddressPerMinute: config.rateLimitPerAddressPerMinute,
    // Per replica on purpose: it protects this process's CPU (CLIP, sharp), which is not shared.
    maxConcurrent: config.maxConcurrentSearches,
    ttlMs: config.stateTtlMs,
  });
  return {
    core,
    state,
    dedupe,
    handler: opts.decorateHandler ? opts.decorateHandler(engine) : engine,
    async close() {
      await state.close();
      await core.close();
    },
  };
}

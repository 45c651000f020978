import { ClipModel } from '../clip/clip-model.ts';
import type { Config } from '../config.ts';
import { DefaultSearchService } from '../core/search-service.ts';
import { SharpGridRenderer } from '../grid/grid-renderer.ts';
import { imageStoreOptionsFromConfig, LocalAndRemoteImageStore } from '../images/image-store.ts';
import type { LoadedIndex } from '../index/engines/types.ts';
import { openVectorIndex } from '../index/open.ts';
import type { Logger } from '../logger.ts';
import { GeminiReranker, type GeminiRerankerOptions } from '../rerank/gemini-reranker.ts';

/** The platform-free core, built from configuration: model, index, images, reranker, pipeline. */
export interface Core {
  config: Config;
  model: ClipModel;
  index: LoadedIndex;
  images: LocalAndRemoteImageStore;
  reranker: GeminiReranker;
  search: DefaultSearchService;
  close(): Promise<void>;
}

export interface CoreOptions {
  /** Load the vision encoder now (serving: image queries and "more like" are then instant). */
  warmVision?: boolean;
  /** Skip Gemini even if a key is configured (CLI --no-rerank). */
  rerank?: boolean;
  /** Told about every Gemini call (metrics). */
  onGeminiCall?: GeminiRerankerOptions['onCall'];
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
      ...config.indexSearch,
    });
    await model.warm(opts.warmVision ? ['text', 'vision'] : ['text']);
    const images = new LocalAndRemoteImageStore({
      ...imageStoreOptionsFromConfig(config, index.hosts, index.imagesRoot),
      logger,
    });
    const reranker = GeminiReranker.fromConfig(config, {
      imageStore: images,
      logger,
      ...(opts.onGeminiCall ? { onCall: opts.onGeminiCall } : {}),
    });
    const search = new DefaultSearchService({
      embedder: model,
      index,
      grid: new SharpGridRenderer(),
      images,
      logger,
      minScore: config.minScore,
      ...(opts.rerank === false ? {} : { reranker }),
    });
    logger.info(
      {
        model: model.modelId,
        variant: model.variant,
        index: index.size,
        engine: index.engine,
        gemini: reranker.enabled ? config.geminiModel : 'off',
      },
      'search core ready',
    );
    return {
      config,
      model,
      index,
      images,
      reranker,
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

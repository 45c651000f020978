import { ClipModel } from '../../src/clip/clip-model.ts';
import { SharpGridRenderer } from '../../src/grid/grid-renderer.ts';
import { imageStoreOptionsFromConfig, LocalAndRemoteImageStore } from '../../src/images/image-store.ts';
import { FlatVectorIndex } from '../../src/index/vector-index.ts';
import { GeminiReranker, type GeminiRerankerOptions } from '../../src/rerank/gemini-reranker.ts';
import { DefaultSearchService } from '../../src/search/search-service.ts';
import type { Config } from '../../src/util/config.ts';
import type { Logger } from '../../src/util/logger.ts';

/** The platform-free core, built from configuration: model, index, images, reranker, pipeline. */
export interface Core {
  config: Config;
  model: ClipModel;
  index: FlatVectorIndex;
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
    const index = await FlatVectorIndex.load(config.indexDir, {
      expect: { modelId: model.modelId, dim: model.dim },
      threads: config.threads,
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

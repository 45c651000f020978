/**
 * The data work of the command line, built from configuration: the tokenizer, index builds and
 * imports, first-run setup, and a search vector read from a file. Like ./stack.ts, the only place
 * that maps `Config` onto these engines' options; the CLI (adapters/cli/) parses argv and prints.
 */
import { buildBatchSize } from '../../src/clip/providers.ts';
import { ClipTokenizer } from '../../src/clip/tokenizer.ts';
import { ImageSearchError } from '../../src/core/errors.ts';
import { LocalAndRemoteImageStore } from '../../src/images/image-store.ts';
import { type BuildReport, buildIndex, type IndexSource } from '../../src/index/build.ts';
import { ENGINES, type EngineName } from '../../src/index/engines/types.ts';
import { type ImportNpyOptions, type ImportNpyResult, importNpy } from '../../src/index/import-npy.ts';
import { readNpyVector } from '../../src/index/npy.ts';
import { type IndexBuilder, runSetup, type SetupOptions, type SetupResult } from '../../src/setup/setup.ts';
import type { Config } from '../../src/util/config.ts';
import type { Logger } from '../../src/util/logger.ts';
import { l2normalize } from '../../src/vector/math.ts';
import { imageHostRules, loadModel } from './stack.ts';

/** The index engines a command may choose (`--engine`). */
export { ENGINES, type EngineName };

/** The CLIP tokenizer of the configured model folder; a folder without one says how to get it. */
export async function loadTokenizer(config: Pick<Config, 'modelDir'>): Promise<ClipTokenizer> {
  return ClipTokenizer.fromDir(config.modelDir).catch((e: unknown) => {
    throw e instanceof ImageSearchError && e.code === 'model_invalid'
      ? new ImageSearchError(
          'model_missing',
          `No tokenizer.json in ${config.modelDir}. Run \`npx imagesearch setup\` or pass --model DIR (a CLIP model folder).`,
        )
      : e;
  });
}

/** What to index and how; everything else comes from configuration. */
export interface IndexRequest {
  /** Index folder or s3:// location. */
  outDir: string;
  source: IndexSource;
  engine?: EngineName | undefined;
  annMinRows?: number | undefined;
  /** Images per model call; default: what suits the vision encoder's execution provider. */
  batchSize?: number | undefined;
  allowAbsolutePaths?: boolean | undefined;
  progress: boolean;
  signal?: AbortSignal | undefined;
}

/**
 * Builds or updates an index with the configured CLIP model. Remote images (URL manifests) come
 * through an image store with the bot's host rules over the manifest's own hosts (no disk cache).
 */
export async function buildConfiguredIndex(
  config: Config,
  logger: Logger,
  req: IndexRequest,
): Promise<BuildReport> {
  const model = await loadModel(config, logger);
  try {
    await model.warm(['vision']);
    const provider = (await model.providers()).vision ?? 'cpu';
    let store: LocalAndRemoteImageStore | undefined;
    return await buildIndex({
      embedder: model,
      outDir: req.outDir,
      source: req.source,
      ...(req.engine ? { engine: req.engine } : {}),
      ...(req.annMinRows ? { annMinRows: req.annMinRows } : {}),
      batchSize: req.batchSize ?? buildBatchSize(provider),
      logger,
      progress: req.progress,
      ...(req.signal ? { signal: req.signal } : {}),
      fetchImage: (e, hosts) => {
        store ??= new LocalAndRemoteImageStore({ ...imageHostRules(config, hosts), logger });
        return store.get(e.url ? { id: e.id, url: e.url } : { id: e.id }, 640);
      },
      allowAbsolutePaths: req.allowAbsolutePaths === true,
    });
  } finally {
    await model.close();
  }
}

/** Imports precomputed embeddings (the prototype's features.npy) as an index; needs no model. */
export function importEmbeddings(opts: ImportNpyOptions): Promise<ImportNpyResult> {
  return importNpy(opts);
}

/** Setup's index stage: the configured model over the manifest setup prepared. */
export function setupIndexBuilder(config: Config): IndexBuilder {
  return (req) =>
    buildConfiguredIndex(config, req.logger, {
      outDir: req.outDir,
      source: { kind: 'manifest', file: req.manifest },
      progress: req.progress,
      signal: req.signal,
    });
}

/** First-run setup (model, Unsplash Lite, index) as configured, `HF_TOKEN` included. */
export function setupFromConfig(
  config: Config,
  logger: Logger,
  opts: Pick<SetupOptions, 'limit' | 'full' | 'progress' | 'signal'> = {},
): Promise<SetupResult> {
  return runSetup({
    ...opts,
    config,
    logger,
    hfToken: config.hfToken,
    buildIndex: setupIndexBuilder(config),
  });
}

/**
 * A query embedding from a `.npy` file (a D-vector or 1×D), normalised. Read before anything is
 * loaded, so a bad file fails fast; the search command checks its size against the index.
 */
export async function readQueryVector(file: string): Promise<Float32Array> {
  return l2normalize(await readNpyVector(file));
}

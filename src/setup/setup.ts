/**
 * `imagesearch setup`: model → dataset → index, each stage skipped when already done, so a rerun
 * after Ctrl-C, `kill -9` or a crash carries on where the last one stopped (downloads resume by
 * Range, thumbnails on disk are kept, the index build resumes). One setup per data directory at a
 * time (lockfile).
 */
import path from 'node:path';
import { hasLocalControlTable } from '../index/engines/lance-connect.ts';
import { INDEX_FILE } from '../index/format.ts';
import { isUri } from '../index/location.ts';
import type { Config } from '../util/config.ts';
import { statOrUndefined } from '../util/fs-atomic.ts';
import type { Logger } from '../util/logger.ts';
import type { RetryPolicy } from './download.ts';
import { checkModelDir, downloadModel, type ModelVariant, modelFiles } from './hf-download.ts';
import { modelFetchError } from './messages.ts';
import { acquireSetupLock, done, loadState, type SetupState, saveState } from './state.ts';
import type { ThumbnailOptions } from './thumbnails.ts';
import { prepareUnsplash, unsplashPaths } from './unsplash.ts';

/** Photos indexed by a plain `setup`: a few minutes on a laptop. `--full` takes all ~25K. */
export const DEFAULT_LIMIT = 500;

/**
 * What the index stage is asked: index this manifest into `outDir`. The composition root's builder
 * (adapters/app/data.ts) embeds with the configured CLIP model.
 */
export interface IndexBuildRequest {
  manifest: string;
  outDir: string;
  logger: Logger;
  progress: boolean;
  signal?: AbortSignal | undefined;
}

/** Outcome of an index build (the shape `buildIndex` returns). */
export interface IndexBuildResult {
  total: number;
  added: number;
  skipped: { id: string; reason: string }[];
  resumed: boolean;
}

export type IndexBuilder = (req: IndexBuildRequest) => Promise<IndexBuildResult>;

/** Knobs for slow or flaky networks (and for tests, which shrink every delay). */
export interface NetworkOptions {
  retry?: Partial<RetryPolicy>;
  /** Abort a download attempt after this long without data. */
  stallTimeoutMs?: number;
  thumbnails?: Partial<Pick<ThumbnailOptions, 'width' | 'concurrency' | 'timeoutMs' | 'maxBytes' | 'retry'>>;
}

export interface SetupOptions {
  config: Config;
  logger: Logger;
  /** Photos to index (default {@link DEFAULT_LIMIT}, or what the last finished setup used). */
  limit?: number | undefined;
  /** Index the whole dataset. */
  full?: boolean | undefined;
  signal?: AbortSignal | undefined;
  /** Progress bars / percentage lines (default true). */
  progress?: boolean | undefined;
  /** Hub token for gated or private model repos (`HF_TOKEN`). */
  hfToken?: string | undefined;
  network?: NetworkOptions | undefined;
  /** The index stage: the configured model's (adapters/app/data.ts), or a test's. */
  buildIndex: IndexBuilder;
}

export interface SetupResult {
  model: { dir: string; downloaded: string[]; skipped: boolean };
  dataset: { manifest: string; rows: number; skipped: number } | undefined;
  index: (IndexBuildResult & { dir: string; skippedStage: boolean }) | undefined;
}

/** What a fresh start is missing. `npm start` runs setup first when either is true. */
export async function needsSetup(config: Config): Promise<{ model: boolean; index: boolean }> {
  const model = await checkModelDir(config.modelDir, config.modelVariant);
  return {
    model: !model.ok,
    index: !(await indexPresent(config.indexDir)) || (await builtFromOldManifest(config)),
  };
}

/**
 * Setup's own index, built from the manifest's old place (unsplash-lite/manifest.csv, whose paths
 * lead out of its folder, which the image store now refuses): rebuilt once. Its vectors are reused
 * (same ids and files), so that takes seconds and no network.
 */
async function builtFromOldManifest(config: Config): Promise<boolean> {
  const ix = (await loadState(config.dataDir)).index;
  return (
    ix?.done === true &&
    path.resolve(ix.dir) === path.resolve(config.indexDir) &&
    ix.manifest !== unsplashPaths(config.dataDir).manifest
  );
}

/**
 * True when `dir` holds a committed index (its `index.json`, written last by the index module, or a
 * LanceDB control table). An s3:// location is the operator's: setup never builds there.
 */
export async function indexPresent(dir: string): Promise<boolean> {
  if (isUri(dir)) return true;
  return (await statOrUndefined(path.join(dir, INDEX_FILE)))?.isFile() === true || hasLocalControlTable(dir);
}

function downloadVariant(v: Config['modelVariant']): ModelVariant {
  return v === 'auto' ? 'quantized' : v;
}

async function modelStage(
  opts: SetupOptions,
  state: SetupState,
  save: () => Promise<void>,
): Promise<SetupResult['model']> {
  const { config, logger } = opts;
  const check = await checkModelDir(config.modelDir, config.modelVariant);
  if (check.ok) {
    logger.info({ dir: config.modelDir, variant: check.variant }, 'CLIP model already present');
    return { dir: config.modelDir, downloaded: [], skipped: true };
  }
  const variant = downloadVariant(config.modelVariant);
  logger.info({ repo: config.modelRepo, variant, dir: config.modelDir }, 'downloading the CLIP model');
  try {
    const r = await downloadModel({
      endpoint: config.hfEndpoint,
      repo: config.modelRepo,
      variant,
      dir: config.modelDir,
      token: opts.hfToken,
      logger,
      progress: opts.progress ?? true,
      signal: opts.signal,
      retry: opts.network?.retry,
      stallTimeoutMs: opts.network?.stallTimeoutMs,
    });
    state.model = { ...done(), repo: config.modelRepo, revision: 'main', variant, dir: config.modelDir };
    await save();
    return { dir: config.modelDir, downloaded: r.downloaded, skipped: false };
  } catch (e) {
    if (opts.signal?.aborted) throw e;
    throw modelFetchError(e, {
      endpoint: config.hfEndpoint,
      repo: config.modelRepo,
      revision: 'main',
      dir: config.modelDir,
      files: modelFiles(variant),
    });
  }
}

/** Runs every stage that is not done yet. Throws `fetch_failed` with one clear message when a host is unreachable. */
export async function runSetup(opts: SetupOptions): Promise<SetupResult> {
  const { config, logger } = opts;
  const release = await acquireSetupLock(config.dataDir, logger);
  try {
    return await stages(opts);
  } catch (e) {
    // Ctrl-C surfaces as whatever the interrupted fetch threw; report the caller's reason instead.
    if (opts.signal?.aborted && opts.signal.reason instanceof Error) throw opts.signal.reason;
    throw e;
  } finally {
    await release();
  }
}

async function stages(opts: SetupOptions): Promise<SetupResult> {
  const { config, logger } = opts;
  const state = await loadState(config.dataDir);
  const save = () => saveState(config.dataDir, state);
  const model = await modelStage(opts, state, save);

  // An index that setup did not build (your own photos) is never overwritten with Unsplash.
  if (!state.index && !state.dataset && (await indexPresent(config.indexDir))) {
    logger.info({ dir: config.indexDir }, 'an index is already present; skipping the Unsplash dataset');
    return { model, dataset: undefined, index: undefined };
  }

  const previous = state.dataset?.manifest?.done ? state.dataset.manifest.limit : undefined;
  const limit = opts.full
    ? undefined
    : (opts.limit ?? (previous === null ? undefined : (previous ?? DEFAULT_LIMIT)));
  const dataset = await prepareUnsplash({
    url: config.unsplashLiteUrl,
    dataDir: config.dataDir,
    limit,
    logger,
    progress: opts.progress ?? true,
    signal: opts.signal,
    retry: opts.network?.retry,
    stallTimeoutMs: opts.network?.stallTimeoutMs,
    ...(opts.network?.thumbnails ? { thumbnails: opts.network.thumbnails } : {}),
    // The dataset's own host and IMAGE_HOSTS are configured; other image hosts must be public.
    trustedHosts: [new URL(config.unsplashLiteUrl).hostname, ...config.imageHosts],
    state,
    save,
  });

  const ix = state.index;
  if (
    ix?.done &&
    ix.manifest === dataset.manifest &&
    ix.limit === (limit ?? null) &&
    (await indexPresent(config.indexDir))
  ) {
    logger.info({ dir: config.indexDir }, 'index already built');
    const { total, added } = ix;
    return {
      model,
      dataset,
      index: { total, added, skipped: [], resumed: false, dir: config.indexDir, skippedStage: true },
    };
  }
  logger.info({ manifest: dataset.manifest, photos: dataset.rows }, 'building the index');
  const r = await opts.buildIndex({
    manifest: dataset.manifest,
    outDir: config.indexDir,
    logger,
    progress: opts.progress ?? true,
    signal: opts.signal,
  });
  state.index = {
    ...done(),
    dir: config.indexDir,
    manifest: dataset.manifest,
    limit: limit ?? null,
    total: r.total,
    added: r.added,
  };
  await save();
  logger.info({ total: r.total, added: r.added, skipped: r.skipped.length }, 'setup finished');
  return { model, dataset, index: { ...r, dir: config.indexDir, skippedStage: false } };
}

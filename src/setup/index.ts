/** First-run setup: model download, Unsplash Lite dataset, index build. */
export {
  DEFAULT_RETRY,
  type DownloadOptions,
  type DownloadResult,
  downloadFile,
  type RetryPolicy,
} from './download.ts';
export {
  checkModelDir,
  downloadModel,
  MODEL_MARKER,
  type ModelDownloadOptions,
  type ModelDownloadResult,
  type ModelVariant,
  modelFiles,
} from './hf-download.ts';
export {
  DEFAULT_LIMIT,
  type IndexBuilder,
  type IndexBuildRequest,
  type IndexBuildResult,
  indexPresent,
  type NetworkOptions,
  needsSetup,
  runSetup,
  type SetupOptions,
  type SetupResult,
} from './setup.ts';
export { loadState, type SetupState, STATE_FILE, statePath } from './state.ts';
export { SKIPPED_FILE, type SkipRecord } from './thumbnails.ts';
export { prepareUnsplash, unsplashPaths } from './unsplash.ts';

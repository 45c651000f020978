/**
 * The Unsplash Lite dataset stages of setup: download the archive (resumable), extract the
 * `photos.tsv*` parts, read the first N photos, fetch their thumbnails, write the index manifest.
 * Each stage records itself in the setup state when finished, so a rerun skips it.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { statOrUndefined } from '../util/fs-atomic.ts';
import type { Logger } from '../util/logger.ts';
import { ChecksumError } from '../util/net-errors.ts';
import { downloadFile, type RetryPolicy } from './download.ts';
import { manifestPath, manifestRow, writeManifest } from './manifest.ts';
import { datasetFetchError } from './messages.ts';
import { done, type SetupState } from './state.ts';
import { fetchThumbnails, type ThumbnailOptions } from './thumbnails.ts';
import { readPhotos } from './unsplash-tsv.ts';
import { extractMatching, isReadableZip } from './zip-extract.ts';

/** Where the dataset lives under the data directory. */
export interface UnsplashPaths {
  archive: string;
  tsvDir: string;
  imagesDir: string;
  manifest: string;
}

export function unsplashPaths(dataDir: string): UnsplashPaths {
  return {
    archive: path.join(dataDir, 'downloads', 'unsplash-lite.zip'),
    tsvDir: path.join(dataDir, 'unsplash-lite'),
    imagesDir: path.join(dataDir, 'images', 'unsplash'),
    // Beside the thumbnails: an index's paths are relative to its manifest's folder and may not
    // leave it (src/util/contained-path.ts). Setups before that kept it in unsplash-lite/.
    manifest: path.join(dataDir, 'images', 'unsplash', 'manifest.csv'),
  };
}

const PART_RE = /^photos\.tsv\d{3}$/;
/** The keywords table is kept too: `imagesearch eval --from-unsplash-keywords` reads it. */
const KEYWORD_PART_RE = /^keywords\.tsv\d{3}$/;

/** Extracted `photos.tsv000…` parts present in `tsvDir`, in order. */
export function listPhotoParts(tsvDir: string): Promise<string[]> {
  return listParts(tsvDir, PART_RE);
}

/** Extracted `keywords.tsv000…` parts present in `tsvDir`, in order. */
export function listKeywordParts(tsvDir: string): Promise<string[]> {
  return listParts(tsvDir, KEYWORD_PART_RE);
}

async function listParts(tsvDir: string, re: RegExp): Promise<string[]> {
  let names: string[];
  try {
    names = await fs.readdir(tsvDir);
  } catch {
    return [];
  }
  return names
    .filter((n) => re.test(n))
    .sort()
    .map((n) => path.join(tsvDir, n));
}

export interface UnsplashOptions {
  /** Archive address (`UNSPLASH_LITE_URL`). */
  url: string;
  dataDir: string;
  /** Photos to take from the top of the table; undefined = all (~25K). */
  limit: number | undefined;
  logger: Logger;
  progress?: boolean;
  signal?: AbortSignal | undefined;
  retry?: Partial<RetryPolicy> | undefined;
  stallTimeoutMs?: number | undefined;
  thumbnails?: Partial<Pick<ThumbnailOptions, 'width' | 'concurrency' | 'timeoutMs' | 'maxBytes' | 'retry'>>;
  /** Hosts the operator configured (the dataset URL's, IMAGE_HOSTS): thumbnails may come from private addresses there. */
  trustedHosts?: readonly string[];
  /** Keep the zip after extraction (default: delete it, it is the largest file). */
  keepArchive?: boolean;
  /** Current state; stages are marked in it and `save` is called after each. */
  state: SetupState;
  save: () => Promise<void>;
}

export interface UnsplashResult {
  manifest: string;
  rows: number;
  skipped: number;
}

async function ensureParts(opts: UnsplashOptions, paths: UnsplashPaths): Promise<string[]> {
  const existing = await listPhotoParts(paths.tsvDir);
  const archive = await statOrUndefined(paths.archive);
  const partial = await statOrUndefined(`${paths.archive}.part`);
  // Extraction finished, or parts put there by hand (the offline route): nothing to download.
  if (existing.length > 0 && !partial && (opts.state.dataset?.extract?.done || !archive)) return existing;
  opts.logger.info({ url: opts.url }, 'downloading the Unsplash Lite dataset');
  let r: Awaited<ReturnType<typeof downloadFile>>;
  try {
    r = await downloadFile({
      url: opts.url,
      dest: paths.archive,
      label: 'unsplash-lite.zip',
      logger: opts.logger,
      progress: opts.progress ?? true,
      signal: opts.signal,
      retry: opts.retry,
      stallTimeoutMs: opts.stallTimeoutMs,
    });
  } catch (e) {
    if (opts.signal?.aborted) throw e;
    throw datasetFetchError(e, { url: opts.url, archivePath: paths.archive, tsvDir: paths.tsvDir });
  }
  if (!(await isReadableZip(paths.archive))) {
    // No checksum is published for the archive: the zip's own structure is the integrity check.
    await fs.rm(paths.archive, { force: true });
    throw datasetFetchError(new ChecksumError('the downloaded archive is not a valid zip'), {
      url: opts.url,
      archivePath: paths.archive,
      tsvDir: paths.tsvDir,
    });
  }
  opts.state.dataset = { url: opts.url, archive: { ...done(), file: paths.archive, bytes: r.bytes } };
  await opts.save();
  opts.logger.info('extracting photos.tsv and keywords.tsv from the archive');
  let ex: Awaited<ReturnType<typeof extractMatching>>;
  try {
    ex = await extractMatching({
      zipPath: paths.archive,
      outDir: paths.tsvDir,
      match: (name) => PART_RE.test(name) || KEYWORD_PART_RE.test(name),
      signal: opts.signal,
    });
  } catch (e) {
    if (opts.signal?.aborted) throw e;
    // A damaged member (CRC), an oversized or hostile archive: not worth keeping; the next run
    // downloads it afresh.
    await fs.rm(paths.archive, { force: true });
    throw datasetFetchError(new ChecksumError(e instanceof Error ? e.message : String(e)), {
      url: opts.url,
      archivePath: paths.archive,
      tsvDir: paths.tsvDir,
    });
  }
  if (ex.files.length === 0) {
    throw datasetFetchError(new Error('no photos.tsv000 in the archive'), {
      url: opts.url,
      archivePath: paths.archive,
      tsvDir: paths.tsvDir,
    });
  }
  const parts = await listPhotoParts(paths.tsvDir);
  opts.state.dataset = { ...opts.state.dataset, url: opts.url, extract: { ...done(), parts: ex.files } };
  await opts.save();
  if (!opts.keepArchive) await fs.rm(paths.archive, { force: true });
  return parts;
}

/** Runs the dataset stages and returns the manifest to index. */
export async function prepareUnsplash(opts: UnsplashOptions): Promise<UnsplashResult> {
  const paths = unsplashPaths(opts.dataDir);
  const limit = opts.limit ?? null;
  const ds = opts.state.dataset;
  if (ds?.manifest?.done && ds.manifest.limit === limit && (await statOrUndefined(ds.manifest.file))) {
    return { manifest: ds.manifest.file, rows: ds.manifest.rows, skipped: ds.thumbnails?.skipped ?? 0 };
  }

  const parts = await ensureParts(opts, paths);
  const { photos, rejected } = await readPhotos(parts, opts.limit);
  if (rejected.length > 0)
    opts.logger.warn({ rejected: rejected.length }, 'some dataset rows were unusable and are left out');
  opts.logger.info({ photos: photos.length }, 'fetching thumbnails');

  let okIds: Set<string>;
  let skipped: number;
  const thumbsDone = opts.state.dataset?.thumbnails;
  if (thumbsDone?.done && thumbsDone.limit === limit) {
    // Finished before: only look at what is on disk, no network.
    okIds = new Set();
    for (const p of photos)
      if (await statOrUndefined(path.join(paths.imagesDir, `${p.id}.jpg`))) okIds.add(p.id);
    skipped = photos.length - okIds.size;
  } else {
    const r = await fetchThumbnails(
      photos.map((p) => ({ id: p.id, url: p.imageUrl })),
      {
        ...opts.thumbnails,
        ...(opts.trustedHosts ? { trustedHosts: opts.trustedHosts } : {}),
        dir: paths.imagesDir,
        logger: opts.logger,
        progress: opts.progress ?? true,
        signal: opts.signal,
      },
    );
    okIds = new Set(r.ok);
    skipped = r.skipped.length;
    opts.state.dataset = {
      ...opts.state.dataset,
      url: opts.url,
      thumbnails: { ...done(), limit, ok: r.ok.length, skipped },
    };
    await opts.save();
  }

  const rows = photos
    .filter((p) => okIds.has(p.id))
    .map((p) => manifestRow(p, manifestPath(paths.manifest, path.join(paths.imagesDir, `${p.id}.jpg`))));
  await writeManifest(paths.manifest, rows);
  opts.state.dataset = {
    ...opts.state.dataset,
    url: opts.url,
    manifest: { ...done(), file: paths.manifest, limit, rows: rows.length },
  };
  await opts.save();
  return { manifest: paths.manifest, rows: rows.length, skipped };
}

/**
 * The user-facing errors of setup. Each says what could not be fetched, from which host, and
 * exactly which files, paths or variables would let the user carry on without that host.
 */
import path from 'node:path';
import { ImageSearchError } from '../core/errors.ts';
import { HttpStatusError, hostOf, isNetworkError, isTimeout } from '../util/net-errors.ts';

function rel(p: string): string {
  const r = path.relative(process.cwd(), p);
  return r && !r.startsWith('..') && !path.isAbsolute(r) ? r : p;
}

export interface ModelErrorContext {
  endpoint: string;
  repo: string;
  revision: string;
  dir: string;
  files: string[];
}

/** Turns a failed model download into one clear `fetch_failed` error. */
export function modelFetchError(e: unknown, ctx: ModelErrorContext): ImageSearchError {
  const host = hostOf(ctx.endpoint);
  const page = `${ctx.endpoint.replace(/\/+$/, '')}/${ctx.repo}`;
  const provide = `put these files from ${page} in ${rel(ctx.dir)}/: ${ctx.files.join(', ')}`;
  const detail = e instanceof Error ? e.message : String(e);
  if (e instanceof HttpStatusError) {
    const code = e.hubErrorCode;
    if (code === 'GatedRepo' || e.status === 403) {
      return new ImageSearchError(
        'fetch_failed',
        `The CLIP model ${ctx.repo} on ${host} needs permission: accept its terms at ${page} and set HF_TOKEN, or ${provide}.`,
        { cause: e, detail },
      );
    }
    if (code === 'EntryNotFound' || code === 'RevisionNotFound') {
      return new ImageSearchError(
        'fetch_failed',
        `${ctx.repo} on ${host} has no ${code === 'RevisionNotFound' ? `revision ${ctx.revision}` : 'file we need'} (${e.url}). Try another IMAGESEARCH_MODEL_VARIANT, or ${provide}.`,
        { cause: e, detail },
      );
    }
    if (e.status === 401 || e.status === 404) {
      return new ImageSearchError(
        'fetch_failed',
        `The CLIP model ${ctx.repo} was not found on ${host} (or it is private). Check IMAGESEARCH_MODEL_REPO, set HF_TOKEN for a private repo, or ${provide}.`,
        { cause: e, detail },
      );
    }
  }
  const why =
    isNetworkError(e) || isTimeout(e) ? `Could not reach ${host}` : `Could not download from ${host}`;
  return new ImageSearchError(
    'fetch_failed',
    `${why} to download the CLIP model. Put the files from ${page} (${ctx.files.join(', ')}) in ${rel(ctx.dir)}/, or set IMAGESEARCH_MODEL_DIR / HF_ENDPOINT.`,
    { cause: e, detail },
  );
}

export interface DatasetErrorContext {
  url: string;
  archivePath: string;
  tsvDir: string;
}

/** Turns a failed Unsplash archive download into one clear `fetch_failed` error. */
export function datasetFetchError(e: unknown, ctx: DatasetErrorContext): ImageSearchError {
  const host = hostOf(ctx.url);
  const why =
    e instanceof HttpStatusError
      ? `${host} answered HTTP ${e.status} for the Unsplash Lite dataset`
      : isNetworkError(e) || isTimeout(e)
        ? `Could not reach ${host} to download the Unsplash Lite dataset`
        : `Could not download the Unsplash Lite dataset from ${host} (${e instanceof Error ? e.message : String(e)})`;
  return new ImageSearchError(
    'fetch_failed',
    `${why}. Download ${ctx.url} yourself and save it as ${rel(ctx.archivePath)} (or put its photos.tsv000… files in ${rel(ctx.tsvDir)}/), or set UNSPLASH_LITE_URL to a reachable copy, or point IMAGESEARCH_INDEX_DIR at an index you already built.`,
    { cause: e, detail: e instanceof Error ? e.message : String(e) },
  );
}

/** Every thumbnail failed to connect: the image host is blocked, not a few photos gone. */
export function thumbnailsUnreachableError(host: string, imagesDir: string, e?: unknown): ImageSearchError {
  return new ImageSearchError(
    'fetch_failed',
    `Could not reach ${host} to fetch the Unsplash thumbnails. Allow that host, or put <photo_id>.jpg files in ${rel(imagesDir)}/ and run setup again, or point IMAGESEARCH_INDEX_DIR at an index you already built.`,
    e instanceof Error ? { cause: e, detail: e.message } : { cause: e },
  );
}

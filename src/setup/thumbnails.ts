/**
 * Fetches Unsplash thumbnails (`photo_image_url?w=640`) into `<dir>/<photo_id>.jpg`: bounded
 * concurrency, a deadline per request (a hanging host cannot stall setup), a byte cap, retries with
 * backoff on 5xx and network errors, and a full decode of every image before it is kept. Photos that
 * cannot be had (404/410 — deleted upstream — truncated, corrupt, too large) are skipped and
 * recorded in `<dir>/skipped.jsonl`; they never abort the run.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import pLimit from 'p-limit';
import pRetry, { AbortError } from 'p-retry';
import sharp from 'sharp';
import { removeStaleTempFiles, statOrUndefined, writeFileAtomic } from '../util/fs-atomic.ts';
import { GuardedFetchError, guardedFetch } from '../util/guarded-fetch.ts';
import type { Logger } from '../util/logger.ts';
import {
  describeError,
  HttpStatusError,
  hostOf,
  isRetryable,
  isUnreachable,
  TransientError,
} from '../util/net-errors.ts';
import { startProgress } from '../util/progress.ts';
import { DEFAULT_RETRY, type RetryPolicy } from './download.ts';
import { thumbnailsUnreachableError } from './messages.ts';

export interface ThumbnailJob {
  id: string;
  /** The source URL; `?w=` is added. */
  url: string;
}

/** One line of `skipped.jsonl`. `transient` skips (timeouts, 5xx) are tried again by the next run. */
export interface SkipRecord {
  id: string;
  url: string;
  reason: string;
  transient: boolean;
  at: string;
}

export interface ThumbnailOptions {
  dir: string;
  /** Width asked of imgix (default 640, as the prototype used). */
  width?: number;
  /** Requests in flight at once (default 8). */
  concurrency?: number;
  /** Deadline for one request, body included (default 30 s). */
  timeoutMs?: number;
  /** Largest accepted response (default 8 MiB). */
  maxBytes?: number;
  /**
   * Hosts the operator configured (the dataset URL's, IMAGE_HOSTS): they may use other ports and
   * private addresses. Others must be public, on their scheme's port (src/util/guarded-fetch.ts).
   */
  trustedHosts?: readonly string[];
  retry?: Partial<RetryPolicy> | undefined;
  logger: Logger;
  progress?: boolean;
  signal?: AbortSignal | undefined;
}

export interface ThumbnailResult {
  /** Ids with a valid file on disk, in job order. */
  ok: string[];
  fetched: number;
  /** Already on disk from an earlier run. */
  kept: number;
  skipped: SkipRecord[];
}

export const SKIPPED_FILE = 'skipped.jsonl';
const DEFAULT_THUMB_RETRY: RetryPolicy = { retries: 2, minDelayMs: 500, maxDelayMs: 5000 };

export function thumbnailUrl(url: string, width: number): string {
  const u = new URL(url);
  u.searchParams.set('w', String(width));
  return u.toString();
}

/** Latest record per id from `skipped.jsonl`; a line cut short by a crash is ignored. */
export async function readSkipped(file: string): Promise<Map<string, SkipRecord>> {
  const out = new Map<string, SkipRecord>();
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch {
    return out;
  }
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    try {
      const r = JSON.parse(line) as SkipRecord;
      if (typeof r.id === 'string' && typeof r.reason === 'string') out.set(r.id, r);
    } catch {
      // partial last line from an interrupted run
    }
  }
  return out;
}

class SkipError extends Error {
  constructor(
    readonly reason: string,
    readonly transient: boolean,
  ) {
    super(reason);
  }
}

/**
 * A JPEG ends with EOI (FF D9) and a PNG with its IEND chunk. Checked on the bytes because libvips
 * does not reliably report a truncated JPEG when several images decode at once.
 */
export function looksComplete(bytes: Buffer): boolean {
  if (bytes[0] === 0xff && bytes[1] === 0xd8) {
    let end = bytes.length;
    // Some encoders pad after EOI; the entropy-coded data itself can never contain FF D9.
    while (end > 2 && (bytes[end - 1] === 0x00 || bytes[end - 1] === 0x0a || bytes[end - 1] === 0x0d)) end--;
    return bytes[end - 2] === 0xff && bytes[end - 1] === 0xd9;
  }
  if (bytes.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))) {
    return bytes.subarray(Math.max(0, bytes.length - 12)).includes('IEND');
  }
  return true;
}

/** Decodes the whole image (truncation shows only then) and returns JPEG bytes to store. */
async function validated(bytes: Buffer): Promise<Buffer> {
  try {
    if (!looksComplete(bytes)) throw new Error('truncated');
    const img = sharp(bytes, { failOn: 'truncated' });
    const meta = await img.metadata();
    if (!meta.width || !meta.height) throw new Error('no dimensions');
    await img.stats();
    return meta.format === 'jpeg' ? bytes : await sharp(bytes).jpeg({ quality: 88 }).toBuffer();
  } catch {
    throw new SkipError('invalid_image', false);
  }
}

/** A guarded fetch's refusal in the terms the retry and skip logic here use. */
function fromGuarded(e: unknown, url: string): unknown {
  if (!(e instanceof GuardedFetchError)) return e;
  switch (e.reason) {
    case 'http_status':
      return new HttpStatusError(url, e.status ?? 0);
    case 'too_large':
      return new SkipError('too_large', false);
    case 'timeout':
      // Retried like any timeout, and recorded as one.
      return new DOMException(e.message, 'TimeoutError');
    case 'network':
      // The network stack's own error: its codes say whether the host is unreachable.
      return e.cause ?? e;
    default:
      return new SkipError('host_refused', false);
  }
}

function classify(e: unknown): SkipError {
  if (e instanceof SkipError) return e;
  if (e instanceof HttpStatusError) return new SkipError(`http_${e.status}`, e.retryable);
  if (e instanceof Error && e.name === 'TimeoutError') return new SkipError('timeout', true);
  return new SkipError(`network: ${describeError(e)}`, true);
}

/** One thumbnail, fetched through the guarded fetch and validated as a JPEG. */
async function fetchThumbnail(
  job: ThumbnailJob,
  opts: ThumbnailOptions,
  signal: AbortSignal,
): Promise<Buffer> {
  const start = new URL(thumbnailUrl(job.url, opts.width ?? 640));
  let bytes: Buffer;
  try {
    ({ bytes } = await guardedFetch(
      start,
      {
        // A redirect stays on the photo's own host: a dataset row must not send setup anywhere else.
        allow: (u) => u.host === start.host,
        trustedHosts: opts.trustedHosts ?? [],
        maxBytes: opts.maxBytes ?? 8 * 1024 * 1024,
        timeoutMs: opts.timeoutMs ?? 30_000,
        maxRedirects: 3,
        headers: { accept: 'image/jpeg,image/*;q=0.8' },
      },
      signal,
    ));
  } catch (e) {
    throw fromGuarded(e, job.url);
  }
  return validated(bytes);
}

/** One try for p-retry: what is not worth retrying (a skip, an abort, a 404) ends the retries. */
async function fetchOrGiveUp(
  job: ThumbnailJob,
  opts: ThumbnailOptions,
  signal: AbortSignal,
): Promise<Buffer> {
  try {
    return await fetchThumbnail(job, opts, signal);
  } catch (e) {
    if (signal.aborted) throw new AbortError(e instanceof Error ? e : String(e));
    if (e instanceof SkipError || !isRetryable(e)) throw new AbortError(e instanceof Error ? e : String(e));
    throw e instanceof TypeError ? new TransientError(describeError(e), { cause: e }) : e;
  }
}

/** Rewrites the skip log with one line per photo still missing, so reruns and people read a clean list. */
async function rewriteSkipped(
  skippedFile: string,
  previous: Map<string, SkipRecord>,
  skipped: SkipRecord[],
  okSet: ReadonlySet<string>,
  logger: ThumbnailOptions['logger'],
): Promise<void> {
  const latest = new Map<string, SkipRecord>();
  for (const r of [...previous.values(), ...skipped]) if (!okSet.has(r.id)) latest.set(r.id, r);
  await writeFileAtomic(skippedFile, [...latest.values()].map((r) => `${JSON.stringify(r)}\n`).join(''));
  if (skipped.length > 0) {
    logger.info(
      { skipped: skipped.length, file: skippedFile },
      `${skipped.length} photo(s) could not be fetched and were skipped (listed in ${SKIPPED_FILE})`,
    );
  }
}

export async function fetchThumbnails(
  jobs: ThumbnailJob[],
  opts: ThumbnailOptions,
): Promise<ThumbnailResult> {
  const policy = { ...DEFAULT_RETRY, ...DEFAULT_THUMB_RETRY, ...opts.retry };
  const skippedFile = path.join(opts.dir, SKIPPED_FILE);
  await fs.mkdir(opts.dir, { recursive: true });
  await removeStaleTempFiles(opts.dir);
  const previous = await readSkipped(skippedFile);

  // Stops everything once it is clear the host is unreachable, instead of timing out 25K times.
  const stop = new AbortController();
  const signal = opts.signal ? AbortSignal.any([opts.signal, stop.signal]) : stop.signal;
  let successes = 0;
  let unreachable = 0;
  let lastUnreachable: unknown;

  const result: ThumbnailResult = { ok: [], fetched: 0, kept: 0, skipped: [] };
  const okSet = new Set<string>();
  const bar = startProgress({
    label: 'thumbnails',
    total: jobs.length,
    unit: 'items',
    logger: opts.logger,
    enabled: opts.progress !== false,
  });
  const limit = pLimit(opts.concurrency ?? 8);
  const run = async (job: ThumbnailJob) => {
    const dest = path.join(opts.dir, `${job.id}.jpg`);
    try {
      // Files appear only via rename after validation, so an existing one is complete.
      if ((await statOrUndefined(dest))?.isFile()) {
        result.kept++;
        okSet.add(job.id);
        successes++;
        return;
      }
      const before = previous.get(job.id);
      if (before && !before.transient) {
        result.skipped.push(before);
        return;
      }
      const bytes = await pRetry(() => fetchOrGiveUp(job, opts, signal), {
        retries: policy.retries,
        minTimeout: policy.minDelayMs,
        maxTimeout: policy.maxDelayMs,
        signal,
      });
      await writeFileAtomic(dest, bytes);
      result.fetched++;
      okSet.add(job.id);
      successes++;
    } catch (e) {
      if (opts.signal?.aborted) throw e;
      if (stop.signal.aborted) return;
      const cause = e instanceof AbortError ? ((e as { originalError?: unknown }).originalError ?? e) : e;
      if (isUnreachable(cause)) {
        unreachable++;
        lastUnreachable = cause;
        if (successes === 0 && unreachable >= Math.min(jobs.length, 8)) stop.abort();
      }
      const skip = classify(cause);
      const record: SkipRecord = {
        id: job.id,
        url: job.url,
        reason: skip.reason,
        transient: skip.transient,
        at: new Date().toISOString(),
      };
      result.skipped.push(record);
      opts.logger.debug({ id: job.id, reason: record.reason }, 'thumbnail skipped');
      await fs.appendFile(skippedFile, `${JSON.stringify(record)}\n`);
    } finally {
      bar.increment();
    }
  };
  try {
    await Promise.all(jobs.map((job) => limit(() => run(job))));
  } finally {
    bar.stop();
  }
  if (stop.signal.aborted && successes === 0) {
    throw thumbnailsUnreachableError(hostOf(jobs[0]?.url ?? ''), opts.dir, lastUnreachable);
  }
  result.ok = jobs.filter((j) => okSet.has(j.id)).map((j) => j.id);
  await rewriteSkipped(skippedFile, previous, result.skipped, okSet, opts.logger);
  return result;
}

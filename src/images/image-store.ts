/**
 * The image store: turns an {@link IndexEntry} into small JPEG bytes for the reranker and the grid.
 *
 * Sources are local files (the index's own photos) or URLs on an allow-list of hosts. The allow-list
 * is what keeps the bot from being a proxy: a URL that came from anywhere but the index, or a redirect
 * to another host, is refused. Every network read is bounded in time, size and concurrency, because
 * one slow or hostile host must not stall or exhaust a bot that answers many chats at once.
 */
import { readFile, stat } from 'node:fs/promises';
import pLimit, { type LimitFunction } from 'p-limit';
import pRetry, { AbortError } from 'p-retry';
import sharp from 'sharp';
import { ImageSearchError } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import type { ImageStore, IndexEntry } from '../core/types.ts';
import { PathRefusedError, realImagePath } from '../util/contained-path.ts';
import { GuardedFetchError, guardedFetch } from '../util/guarded-fetch.ts';
import { TransientError } from '../util/net-errors.ts';
import { cacheKey, DiskCache } from './disk-cache.ts';

/** Options of {@link LocalAndRemoteImageStore}; anything left out takes {@link IMAGE_STORE_DEFAULTS}. */
export interface ImageStoreOptions {
  /**
   * The photo folder (the index's `imagesRoot`): `IndexEntry.path`s are relative to it and may not
   * leave it, by `..` or through a symlink (src/util/contained-path.ts).
   */
  imagesRoot?: string;
  /** Absolute `IndexEntry.path`s are read (the index says so: built with `--allow-absolute-paths`). */
  allowAbsolutePaths: boolean;
  /**
   * Hosts that URLs may point at: the index's own hosts (see {@link hostsOf}) plus config `IMAGE_HOSTS`.
   * Exact host names; `*.example.com` also matches any subdomain.
   */
  allowedHosts: readonly string[];
  /**
   * Hosts configured by the operator (`IMAGE_HOSTS`): they may use any port and resolve to private
   * addresses. The index's own hosts are data, so they must be on 80/443 at public addresses
   * (src/util/guarded-fetch.ts).
   */
  trustedHosts: readonly string[];
  /** Hosts that resize on the fly when given `?w=` (imgix, which Unsplash's `photo_image_url` uses). */
  resizeHosts: readonly string[];
  /** Thumbnail cache directory; no disk cache when absent. */
  cacheDir?: string;
  /** Upper bound of the thumbnail cache's total size on disk. */
  cacheMaxBytes: number;
  /** Time limit of one HTTP attempt, body included. */
  timeoutMs: number;
  /** Largest response body accepted; the download is aborted past it. */
  maxResponseBytes: number;
  /** Largest local file accepted. */
  maxFileBytes: number;
  /** Largest decoded image (width × height) accepted: the decompression-bomb guard. */
  maxInputPixels: number;
  /** HTTP requests in flight at once, across all callers of this store. */
  concurrency: number;
  /** Retries after a 5xx/429 answer or a network error (not after a timeout: the deadline is the caller's). */
  retries: number;
  /** First retry delay; later ones grow by a factor of 2 (with jitter). */
  retryMinDelayMs: number;
  /** Redirects followed; each target must be an allowed host too. */
  maxRedirects: number;
  /** Quality of the JPEGs returned. */
  jpegQuality: number;
  logger?: Logger;
}

/** Defaults: sized for Unsplash thumbnails (≤ 1 MB each) and a bot that answers in under a second. */
export const IMAGE_STORE_DEFAULTS = {
  allowedHosts: [],
  trustedHosts: [],
  allowAbsolutePaths: false,
  resizeHosts: ['images.unsplash.com', 'plus.unsplash.com', '*.imgix.net'],
  cacheMaxBytes: 512 * 1024 * 1024,
  timeoutMs: 4000,
  maxResponseBytes: 15 * 1024 * 1024,
  maxFileBytes: 50 * 1024 * 1024,
  // 100 megapixels: larger than any camera photo we index, far below what exhausts memory (~300 MB raw).
  maxInputPixels: 100_000_000,
  concurrency: 8,
  retries: 2,
  retryMinDelayMs: 150,
  maxRedirects: 3,
  jpegQuality: 85,
} as const satisfies ImageStoreOptions;

const MAX_WIDTH = 4096;

/** Distinct lower-cased hosts of the entries' URLs: what an index allows the store to fetch from. */
export function hostsOf(entries: Iterable<IndexEntry>): string[] {
  const hosts = new Set<string>();
  for (const e of entries) {
    if (!e.url) continue;
    try {
      hosts.add(new URL(e.url).hostname.toLowerCase());
    } catch {
      // A malformed URL allows nothing; get() reports it when that entry is asked for.
    }
  }
  return [...hosts];
}

export class LocalAndRemoteImageStore implements ImageStore {
  private readonly opts: ImageStoreOptions;
  private readonly exactHosts: Set<string>;
  private readonly suffixHosts: string[];
  private readonly limit: LimitFunction;
  private readonly cache: DiskCache | undefined;

  constructor(options: Partial<ImageStoreOptions> = {}) {
    this.opts = { ...IMAGE_STORE_DEFAULTS, ...options };
    const hosts = this.opts.allowedHosts.map((h) => h.trim().toLowerCase()).filter(Boolean);
    this.exactHosts = new Set(hosts.filter((h) => !h.startsWith('*.')));
    this.suffixHosts = hosts.filter((h) => h.startsWith('*.')).map((h) => h.slice(1));
    this.limit = pLimit(this.opts.concurrency);
    this.cache =
      this.opts.cacheDir === undefined
        ? undefined
        : new DiskCache({ dir: this.opts.cacheDir, maxBytes: this.opts.cacheMaxBytes });
  }

  /**
   * JPEG bytes of the entry, no wider than `width`. A local `path` wins over `url`; a missing local
   * file falls back to the URL. A caller's abort rejects with the signal's reason, not an ImageSearchError.
   */
  async get(entry: IndexEntry, width: number, signal?: AbortSignal): Promise<Buffer> {
    signal?.throwIfAborted();
    const w = Number.isFinite(width) ? Math.min(MAX_WIDTH, Math.max(1, Math.round(width))) : 512;
    if (entry.path !== undefined) {
      const fromFile = await this.fromFile(entry.path, w, entry.url === undefined);
      if (fromFile) return fromFile;
    }
    if (entry.url !== undefined) return this.fromUrl(entry.url, w, signal);
    throw new ImageSearchError('not_found', 'That image is not available any more.', {
      detail: `entry ${entry.id} has neither path nor url`,
    });
  }

  /** Whether `url` may be fetched (allowed protocol and host). */
  isAllowed(url: string): boolean {
    try {
      this.checkUrl(url);
      return true;
    } catch {
      return false;
    }
  }

  /** The file to read for `p`, or undefined when it is missing (ENOENT and the like). */
  private async resolvePath(p: string): Promise<string | undefined> {
    try {
      return await realImagePath(p, {
        root: this.opts.imagesRoot,
        allowAbsolute: this.opts.allowAbsolutePaths,
      });
    } catch (e) {
      // An index is data, not code: an entry must not read outside the photo folder.
      if (e instanceof PathRefusedError) {
        throw new ImageSearchError('fetch_failed', 'That image is not available right now.', {
          detail: `path ${p}: ${e.message}`,
        });
      }
      return undefined;
    }
  }

  /** Undefined when the file is missing and a URL may stand in (`mustExist` false). */
  private async fromFile(p: string, w: number, mustExist: boolean): Promise<Buffer | undefined> {
    const file = await this.resolvePath(p);
    let info: { size: number; mtimeMs: number; isFile(): boolean };
    try {
      if (file === undefined) throw new Error('missing');
      info = await stat(file);
    } catch (e) {
      if (!mustExist) return undefined;
      throw new ImageSearchError('fetch_failed', 'That image is not available right now.', {
        cause: e,
        detail: `cannot read ${p}`,
      });
    }
    if (!info.isFile()) {
      throw new ImageSearchError('image_invalid', 'That image file could not be read.', {
        detail: `${file} is not a file`,
      });
    }
    if (info.size > this.opts.maxFileBytes) {
      throw new ImageSearchError('image_too_large', 'That image is too large to show.', {
        detail: `${file}: ${info.size} bytes > ${this.opts.maxFileBytes}`,
      });
    }
    // mtime and size in the key: an edited photo gets a fresh thumbnail.
    const key = cacheKey('file', file, info.size, info.mtimeMs, w);
    return this.cached(key, async () => this.toJpeg(await readFile(file), w, file));
  }

  private async fromUrl(url: string, w: number, signal: AbortSignal | undefined): Promise<Buffer> {
    const target = this.checkUrl(url);
    if (this.matches(target.hostname, this.opts.resizeHosts)) target.searchParams.set('w', String(w));
    const key = cacheKey(target.href, w);
    return this.cached(key, async () => this.toJpeg(await this.download(target, signal), w, target.host));
  }

  private async cached(key: string, make: () => Promise<Buffer>): Promise<Buffer> {
    const hit = await this.cache?.get(key);
    if (hit) return hit;
    const bytes = await make();
    try {
      await this.cache?.set(key, bytes);
    } catch (e) {
      // A full or read-only disk costs speed, never the answer.
      this.opts.logger?.warn({ err: e }, 'thumbnail cache write failed');
    }
    return bytes;
  }

  private matches(hostname: string, list: readonly string[]): boolean {
    const host = hostname.toLowerCase();
    return list.some((h) => (h.startsWith('*.') ? host.endsWith(h.slice(1)) : host === h));
  }

  private checkUrl(raw: string): URL {
    let u: URL;
    try {
      u = new URL(raw);
    } catch (e) {
      throw new ImageSearchError('fetch_failed', 'That image is not available right now.', {
        cause: e,
        detail: 'malformed image URL',
      });
    }
    if (!this.allows(u)) {
      throw new ImageSearchError(
        'host_not_allowed',
        'I can only show images from the photo library’s own sources.',
        {
          detail: `refused ${u.protocol}//${u.hostname.toLowerCase()}`,
        },
      );
    }
    return u;
  }

  /** http(s), no credentials, and an allowed host: for the first URL and every redirect. */
  private allows(u: URL): boolean {
    const host = u.hostname.toLowerCase();
    return (
      (u.protocol === 'https:' || u.protocol === 'http:') &&
      u.username === '' &&
      u.password === '' &&
      (this.exactHosts.has(host) || this.suffixHosts.some((s) => host.endsWith(s)))
    );
  }

  private download(url: URL, signal: AbortSignal | undefined): Promise<Buffer> {
    return pRetry(
      async () => {
        try {
          return await this.limit(() => this.fetchOnce(url, signal));
        } catch (e) {
          // Only transient failures are worth another attempt; AbortError makes p-retry rethrow as is.
          if (e instanceof TransientError) throw e;
          throw new AbortError(e instanceof Error ? e : new Error(String(e)));
        }
      },
      {
        retries: this.opts.retries,
        minTimeout: this.opts.retryMinDelayMs,
        factor: 2,
        randomize: true,
        ...(signal ? { signal } : {}),
        onFailedAttempt: (e) => {
          this.opts.logger?.debug(
            { host: url.host, attempt: e.attemptNumber, err: e.message },
            'image fetch retry',
          );
        },
      },
    ).catch((e: unknown) => {
      if (e instanceof TransientError) {
        throw new ImageSearchError(
          'fetch_failed',
          'The image host is not answering right now. Please try again.',
          {
            cause: e,
            detail: `${url.host}: ${e.message}`,
          },
        );
      }
      throw e;
    });
  }

  /** One attempt through the guarded fetch; transient failures (5xx, 429, resets) are retried by the caller. */
  private async fetchOnce(url: URL, signal: AbortSignal | undefined): Promise<Buffer> {
    try {
      const fetched = await guardedFetch(
        url,
        {
          allow: (u) => this.allows(u),
          trustedHosts: this.opts.trustedHosts,
          maxBytes: this.opts.maxResponseBytes,
          timeoutMs: this.opts.timeoutMs,
          maxRedirects: this.opts.maxRedirects,
          headers: { accept: 'image/*' },
        },
        signal,
      );
      return fetched.bytes;
    } catch (e) {
      if (!(e instanceof GuardedFetchError)) throw e;
      const detail = e.message;
      switch (e.reason) {
        case 'not_allowed':
          throw new ImageSearchError(
            'host_not_allowed',
            'I can only show images from the photo library’s own sources.',
            {
              detail,
            },
          );
        case 'too_large':
          throw new ImageSearchError('image_too_large', 'That image is too large to show.', { detail });
        case 'timeout':
          throw new ImageSearchError('fetch_failed', 'The image host took too long to answer.', {
            cause: e,
            detail,
          });
        case 'network':
          throw new TransientError(detail, { cause: e });
        case 'http_status': {
          const status = e.status ?? 0;
          if (status >= 500 || status === 429 || status === 408) throw new TransientError(detail);
          throw new ImageSearchError('fetch_failed', 'That image is not available any more.', { detail });
        }
        default:
          throw new ImageSearchError('fetch_failed', 'That image is not available right now.', { detail });
      }
    }
  }

  private async toJpeg(bytes: Buffer, w: number, source: string): Promise<Buffer> {
    try {
      return await sharp(bytes, { limitInputPixels: this.opts.maxInputPixels, failOn: 'truncated' })
        .rotate() // honour EXIF orientation before measuring width
        .resize({ width: w, withoutEnlargement: true })
        .flatten({ background: '#ffffff' }) // JPEG has no alpha; transparent logos read best on white
        .jpeg({ quality: this.opts.jpegQuality, mozjpeg: false })
        .toBuffer();
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      if (/pixel limit/i.test(message)) {
        throw new ImageSearchError('image_too_large', 'That image is too large to show.', {
          cause: e,
          detail: `${source}: over ${this.opts.maxInputPixels} pixels`,
        });
      }
      throw new ImageSearchError('image_invalid', 'That image could not be read.', {
        cause: e,
        detail: `${source}: ${message}`,
      });
    }
  }
}

/**
 * A bounded on-disk byte cache for resized thumbnails.
 *
 * Why on disk: thumbnails are fetched from remote hosts (Unsplash) for every search's rerank and grid;
 * a restart should not make the next hundred searches slow again. Why bounded: the bot runs for months
 * on small disks. Eviction is LRU-ish by mtime, which a hit refreshes (atime is useless on `noatime`
 * mounts). Writes go through a temp file + rename so a crash or a concurrent reader never sees a
 * half-written thumbnail, and several processes may share one directory.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, stat, unlink, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';

/** Options of {@link DiskCache}. */
export interface DiskCacheOptions {
  /** Directory that holds the cache files (created on first write). */
  dir: string;
  /** Upper bound of the total size of cached files, in bytes. */
  maxBytes: number;
  /** After an eviction the cache is trimmed to this fraction of `maxBytes`, so evictions are rare. */
  lowWaterRatio?: number;
}

const SUFFIX = '.bin';
const TMP_PREFIX = '.tmp-';
const STALE_TMP_MS = 10 * 60_000;

/** Cache key: sha256 hex of the parts, joined by a separator no URL or path contains. */
export function cacheKey(...parts: (string | number)[]): string {
  return createHash('sha256').update(parts.join('\u0000')).digest('hex');
}

export class DiskCache {
  readonly dir: string;
  readonly maxBytes: number;
  private readonly lowWaterBytes: number;
  /** Estimated total size; `undefined` until the directory was scanned once. */
  private totalBytes: number | undefined;
  /** Evictions run one at a time; a write during one only adds to the estimate. */
  private evicting: Promise<void> | undefined;
  private dirReady: Promise<unknown> | undefined;

  constructor(opts: DiskCacheOptions) {
    this.dir = path.resolve(opts.dir);
    this.maxBytes = opts.maxBytes;
    this.lowWaterBytes = Math.floor(opts.maxBytes * (opts.lowWaterRatio ?? 0.8));
  }

  private file(key: string): string {
    return path.join(this.dir, `${key}${SUFFIX}`);
  }

  /** The cached bytes, or undefined on a miss. A hit marks the entry recently used. */
  async get(key: string): Promise<Buffer | undefined> {
    const file = this.file(key);
    try {
      const bytes = await readFile(file);
      const now = new Date();
      // Best effort: a failed touch only makes this entry a little likelier to be evicted.
      utimes(file, now, now).catch(() => undefined);
      return bytes;
    } catch {
      return undefined;
    }
  }

  /** Stores bytes atomically, then evicts the least recently used entries if over the bound. */
  async set(key: string, bytes: Buffer): Promise<void> {
    // One thumbnail bigger than the whole cache would only evict everything else.
    if (bytes.length > this.maxBytes) return;
    this.dirReady ??= mkdir(this.dir, { recursive: true });
    await this.dirReady;
    const tmp = path.join(this.dir, `${TMP_PREFIX}${randomBytes(8).toString('hex')}`);
    await writeFile(tmp, bytes);
    await rename(tmp, this.file(key));
    if (this.totalBytes === undefined) await this.evict();
    else this.totalBytes += bytes.length;
    if ((this.totalBytes ?? 0) > this.maxBytes) await this.evict();
  }

  /** Total size of the cache files on disk (scans the directory). */
  async sizeOnDisk(): Promise<number> {
    const entries = await this.scan();
    return entries.reduce((sum, e) => sum + e.size, 0);
  }

  private async scan(): Promise<{ file: string; size: number; mtimeMs: number }[]> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch {
      return [];
    }
    const out: { file: string; size: number; mtimeMs: number }[] = [];
    const staleTmpBefore = Date.now() - STALE_TMP_MS;
    for (const name of names) {
      const isTmp = name.startsWith(TMP_PREFIX);
      if (!isTmp && !name.endsWith(SUFFIX)) continue;
      const file = path.join(this.dir, name);
      try {
        const s = await stat(file);
        // A temp file this old belongs to a write that crashed; nobody will rename it any more.
        if (isTmp) {
          if (s.mtimeMs < staleTmpBefore) await unlink(file);
          continue;
        }
        out.push({ file, size: s.size, mtimeMs: s.mtimeMs });
      } catch {
        // Removed by another process between readdir and stat: nothing to count.
      }
    }
    return out;
  }

  private evict(): Promise<void> {
    this.evicting ??= this.runEviction().finally(() => {
      this.evicting = undefined;
    });
    return this.evicting;
  }

  private async runEviction(): Promise<void> {
    // Rescan rather than trust the estimate: other processes may share the directory.
    const entries = await this.scan();
    let total = entries.reduce((sum, e) => sum + e.size, 0);
    if (total > this.maxBytes) {
      entries.sort((a, b) => a.mtimeMs - b.mtimeMs);
      for (const e of entries) {
        if (total <= this.lowWaterBytes) break;
        try {
          await unlink(e.file);
        } catch {
          // Already gone (another process evicted it): it no longer counts either way.
        }
        total -= e.size;
      }
    }
    this.totalBytes = total;
  }
}

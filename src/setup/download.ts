/**
 * A resumable, verified file download: bytes go to `<dest>.part`, a retry or a rerun continues with
 * an HTTP Range request, and the file appears under its final name only after its size and SHA-256
 * check out. Used for the CLIP model files and the Unsplash archive.
 *
 * A resume needs something that proves the .part is a prefix of what the server sends now: a
 * validator (strong ETag or Last-Modified, sent as If-Range) or an expected SHA-256; without either
 * the download starts over. The body is capped at its announced size, or at `maxBytes`.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import pRetry, { AbortError } from 'p-retry';
import { readJsonOrUndefined, sha256File, statOrUndefined, writeFileAtomic } from '../util/fs-atomic.ts';
import type { Logger } from '../util/logger.ts';
import {
  ChecksumError,
  describeError,
  HttpStatusError,
  isRetryable,
  safeUrl,
  TransientError,
} from '../util/net-errors.ts';
import { startProgress } from '../util/progress.ts';

/** How hard to try before giving up. Tests shrink the delays. */
export interface RetryPolicy {
  /** Extra attempts after the first (default 5). */
  retries: number;
  minDelayMs: number;
  maxDelayMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { retries: 5, minDelayMs: 1000, maxDelayMs: 30_000 };

export interface DownloadOptions {
  url: string;
  dest: string;
  /** Name shown on the progress bar. */
  label: string;
  /** Expected size in bytes, when the server announced it (hub `X-Linked-Size`, tree API). */
  expectedSize?: number | undefined;
  /** Expected lowercase hex SHA-256 (hub LFS oid / `X-Linked-Etag`). */
  expectedSha256?: string | undefined;
  headers?: Record<string, string>;
  logger: Logger;
  progress?: boolean;
  signal?: AbortSignal | undefined;
  retry?: Partial<RetryPolicy> | undefined;
  /** Abort an attempt when no byte arrives for this long (default 60 s). */
  stallTimeoutMs?: number | undefined;
  /**
   * Most bytes accepted when neither the caller nor the server says how many to expect (no
   * Content-Length): a server that never stops must not fill the disk. Default 8 GiB.
   */
  maxBytes?: number | undefined;
}

/** Largest download without an expected size: the Unsplash Lite archive and model files are far below. */
export const DEFAULT_MAX_DOWNLOAD_BYTES = 8 * 1024 ** 3;

export interface DownloadResult {
  path: string;
  bytes: number;
  sha256: string;
  /** The file was already complete; nothing was fetched. */
  reused: boolean;
  /** Bytes that came from an earlier, interrupted attempt or run. */
  resumedFrom: number;
}

/** Sidecar that ties a `.part` file to the URL and version it came from, so a resume never mixes files. */
interface PartMeta {
  url: string;
  etag?: string;
  lastModified?: string;
  total?: number;
}

function partMetaPath(dest: string): string {
  return `${dest}.part.json`;
}

async function readPartMeta(dest: string): Promise<PartMeta | undefined> {
  const raw = await readJsonOrUndefined(partMetaPath(dest));
  if (typeof raw !== 'object' || raw === null || typeof (raw as PartMeta).url !== 'string') return undefined;
  return raw as PartMeta;
}

async function resetPart(dest: string): Promise<void> {
  await fs.rm(`${dest}.part`, { force: true });
  await fs.rm(partMetaPath(dest), { force: true });
}

/** Iterates a fetch body (the DOM typings lack its async iterator). Cancels the stream if the loop exits early. */
export async function* bodyChunks(body: ReadableStream<Uint8Array> | null): AsyncGenerator<Uint8Array> {
  if (!body) return;
  const reader = body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      yield value;
    }
  } finally {
    await reader.cancel().catch(() => {});
    reader.releaseLock();
  }
}

/** Parses `bytes START-END/TOTAL` (TOTAL may be `*`). */
export function parseContentRange(
  value: string | null,
): { start: number; end: number; total?: number } | undefined {
  const m = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(value?.trim() ?? '');
  if (!m) return undefined;
  const r = { start: Number(m[1]), end: Number(m[2]) };
  return m[3] === '*' ? r : { ...r, total: Number(m[3]) };
}

/** Only strong validators may be used in If-Range (RFC 9110 §13.1.5). */
function strongEtag(etag: string | undefined): string | undefined {
  return etag && !etag.startsWith('W/') ? etag : undefined;
}

/**
 * Downloads `url` to `dest`. Returns at once when `dest` already exists and matches the expectations.
 * Throws {@link HttpStatusError} (4xx), {@link ChecksumError} or the last network error when retries run out.
 */
export async function downloadFile(opts: DownloadOptions): Promise<DownloadResult> {
  const { dest, logger } = opts;
  const existing = await statOrUndefined(dest);
  if (existing?.isFile()) {
    const sizeOk = opts.expectedSize === undefined || existing.size === opts.expectedSize;
    const sha = sizeOk ? await sha256File(dest) : '';
    if (sizeOk && (opts.expectedSha256 === undefined || sha === opts.expectedSha256)) {
      return { path: dest, bytes: existing.size, sha256: sha, reused: true, resumedFrom: existing.size };
    }
    logger.warn({ file: dest }, 'existing file does not match the expected checksum; downloading it again');
    await fs.rm(dest, { force: true });
  }
  await fs.mkdir(path.dirname(dest), { recursive: true });
  const policy = { ...DEFAULT_RETRY, ...opts.retry };
  const run: RunState = {};
  return pRetry(
    async () => {
      try {
        const r = await attempt(opts, run);
        return { ...r, resumedFrom: run.firstOffset ?? r.resumedFrom };
      } catch (e) {
        if (opts.signal?.aborted)
          throw new AbortError(opts.signal.reason instanceof Error ? opts.signal.reason : 'aborted');
        // p-retry would give up on a plain TypeError; wrap what we consider transient so it retries.
        if (!isRetryable(e)) throw new AbortError(e instanceof Error ? e : new Error(String(e)));
        throw e instanceof Error && !(e instanceof TypeError)
          ? e
          : new TransientError(describeError(e), { cause: e });
      }
    },
    {
      retries: policy.retries,
      minTimeout: policy.minDelayMs,
      maxTimeout: policy.maxDelayMs,
      factor: 2,
      randomize: true,
      ...(opts.signal ? { signal: opts.signal } : {}),
      onFailedAttempt: (err) => {
        if (err.retriesLeft > 0) {
          logger.warn(
            {
              file: path.basename(dest),
              url: safeUrl(opts.url),
              attempt: err.attemptNumber,
              retriesLeft: err.retriesLeft,
            },
            `download interrupted (${describeError(err)}); retrying`,
          );
        }
      },
    },
  );
}

/** Per-call memory across attempts: where the first attempt started, to report what was resumed. */
interface RunState {
  firstOffset?: number;
}

async function attempt(opts: DownloadOptions, run: RunState): Promise<DownloadResult> {
  const { dest, url } = opts;
  const part = `${dest}.part`;
  const meta = await readPartMeta(dest);
  let offset = (await statOrUndefined(part))?.size ?? 0;
  if (offset > 0 && (meta?.url !== url || (opts.expectedSize !== undefined && offset > opts.expectedSize))) {
    // A .part from another URL or longer than the file: it cannot be a prefix of what we want.
    await resetPart(dest);
    offset = 0;
  }
  if (offset > 0 && !strongEtag(meta?.etag) && !meta?.lastModified && opts.expectedSha256 === undefined) {
    // Without a validator (If-Range) the server cannot tell us the file changed since the .part was
    // written, and without a checksum we could not tell either: appending would splice two versions.
    opts.logger.info(
      { file: path.basename(dest) },
      'no ETag or Last-Modified to resume against; restarting download',
    );
    await resetPart(dest);
    offset = 0;
  }
  run.firstOffset ??= offset;
  if (offset > 0 && opts.expectedSize !== undefined && offset === opts.expectedSize) {
    return finish(opts, offset);
  }

  const stall = new AbortController();
  const signal = opts.signal ? AbortSignal.any([opts.signal, stall.signal]) : stall.signal;
  const stallMs = opts.stallTimeoutMs ?? 60_000;
  let stallTimer: NodeJS.Timeout | undefined;
  const armStall = () => {
    clearTimeout(stallTimer);
    stallTimer = setTimeout(
      () => stall.abort(new TransientError(`no data from ${safeUrl(url)} for ${stallMs} ms`)),
      stallMs,
    );
  };

  const headers: Record<string, string> = { 'accept-encoding': 'identity', ...opts.headers };
  if (offset > 0) {
    headers.range = `bytes=${offset}-`;
    const validator = strongEtag(meta?.etag) ?? meta?.lastModified;
    if (validator) headers['if-range'] = validator;
  }
  armStall();
  try {
    const res = await fetch(url, { headers, signal, redirect: 'follow' });
    if (res.status === 416 && offset > 0) {
      await res.body?.cancel();
      // `bytes */TOTAL`: our .part already holds the whole file (a run killed just before the rename).
      const m = /^bytes \*\/(\d+)$/.exec(res.headers.get('content-range')?.trim() ?? '');
      if (m && Number(m[1]) === offset) return await finish(opts, offset);
      await resetPart(dest);
      throw new TransientError('server refused to resume; starting over');
    }
    if (!res.ok) {
      await res.body?.cancel();
      throw new HttpStatusError(url, res.status, res.headers);
    }
    let total: number | undefined;
    let append = false;
    if (res.status === 206) {
      const cr = parseContentRange(res.headers.get('content-range'));
      if (!cr || cr.start !== offset) {
        await res.body?.cancel();
        await resetPart(dest);
        throw new TransientError(`unexpected Content-Range from ${safeUrl(url)}; starting over`);
      }
      total = cr.total;
      append = true;
    } else {
      // 200: the server ignored the Range (or If-Range said the file changed): start from zero.
      if (offset > 0)
        opts.logger.info({ file: path.basename(dest) }, 'server cannot resume; restarting download');
      offset = 0;
      run.firstOffset = 0;
      const len = res.headers.get('content-length');
      const encoded = (res.headers.get('content-encoding') ?? 'identity') !== 'identity';
      if (len !== null && !encoded) total = Number(len);
      const newMeta: PartMeta = { url };
      const etag = res.headers.get('etag');
      const lastModified = res.headers.get('last-modified');
      if (etag) newMeta.etag = etag;
      if (lastModified) newMeta.lastModified = lastModified;
      if (total !== undefined) newMeta.total = total;
      // The sidecar is written before the first byte so a killed run knows what its .part belongs to.
      await writeFileAtomic(partMetaPath(dest), JSON.stringify(newMeta));
    }
    total ??= opts.expectedSize ?? meta?.total;
    if (opts.expectedSize !== undefined && total !== undefined && total !== opts.expectedSize) {
      await res.body?.cancel();
      await resetPart(dest);
      throw new ChecksumError(
        `${path.basename(dest)}: server sends ${total} bytes, expected ${opts.expectedSize}`,
      );
    }

    const bar = startProgress({
      label: opts.label,
      total: total ?? 0,
      unit: 'bytes',
      logger: opts.logger,
      enabled: opts.progress !== false,
      start: offset,
    });
    const fh = await fs.open(part, append ? 'a' : 'w');
    // Never more than announced (or, with no announcement, than the cap): counted as it arrives.
    const cap = total ?? opts.maxBytes ?? DEFAULT_MAX_DOWNLOAD_BYTES;
    let written = offset;
    let over = false;
    try {
      for await (const chunk of bodyChunks(res.body)) {
        armStall();
        if (written + chunk.byteLength > cap) {
          over = true;
          break; // leaving the loop cancels the body
        }
        await fh.write(chunk);
        written += chunk.byteLength;
        bar.update(written);
      }
    } finally {
      await fh.close();
      bar.stop();
    }
    if (over) {
      await resetPart(dest);
      // Not retried: the same server would send the same.
      throw new Error(`${path.basename(dest)}: the server sent more than ${cap} bytes; download refused`);
    }
    if (total !== undefined && written < total) {
      throw new TransientError(`connection closed after ${written} of ${total} bytes`);
    }
    return await finish(opts, offset, total);
  } catch (e) {
    // An abort from our stall timer carries its reason; surface that instead of a bare AbortError.
    if (stall.signal.aborted && !opts.signal?.aborted) throw stall.signal.reason;
    throw e;
  } finally {
    clearTimeout(stallTimer);
  }
}

/** Verifies the complete `.part` and renames it into place. A mismatch deletes it (retried afresh). */
async function finish(opts: DownloadOptions, resumedFrom: number, total?: number): Promise<DownloadResult> {
  const { dest } = opts;
  const part = `${dest}.part`;
  const size = (await statOrUndefined(part))?.size ?? 0;
  const want = opts.expectedSize ?? total;
  if (want !== undefined && size !== want) {
    await resetPart(dest);
    throw new ChecksumError(`${path.basename(dest)}: got ${size} bytes, expected ${want}`);
  }
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(part, { highWaterMark: 1 << 20 })) hash.update(chunk as Buffer);
  const sha256 = hash.digest('hex');
  if (opts.expectedSha256 !== undefined && sha256 !== opts.expectedSha256.toLowerCase()) {
    await resetPart(dest);
    throw new ChecksumError(`${path.basename(dest)}: SHA-256 mismatch (got ${sha256.slice(0, 12)}…)`);
  }
  await fs.rename(part, dest);
  await fs.rm(partMetaPath(dest), { force: true });
  return { path: dest, bytes: size, sha256, reused: false, resumedFrom };
}

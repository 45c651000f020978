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

/**
 * One try: resume from the `.part` where it can be trusted, ask for the rest, check what the server
 * says it sends, stream it to disk, verify and rename. A stall (no byte for `stallTimeoutMs`) ends
 * the try with a TransientError, so the caller retries it.
 */
async function attempt(opts: DownloadOptions, run: RunState): Promise<DownloadResult> {
  const meta = await readPartMeta(opts.dest);
  const offset = await trustedOffset(opts, meta);
  run.firstOffset ??= offset;
  if (offset > 0 && opts.expectedSize !== undefined && offset === opts.expectedSize) {
    return finish(opts, offset);
  }
  const stall = stallGuard(opts);
  try {
    stall.arm();
    const res = await fetch(opts.url, {
      headers: requestHeaders(opts, offset, meta),
      signal: stall.signal,
      redirect: 'follow',
    });
    const body = await acceptResponse(res, opts, offset, meta, run);
    if ('done' in body) return body.done;
    const written = await writeBody(res, opts, body, stall.arm);
    if (body.total !== undefined && written < body.total) {
      throw new TransientError(`connection closed after ${written} of ${body.total} bytes`);
    }
    return await finish(opts, body.offset, body.total);
  } catch (e) {
    // An abort from our stall timer carries its reason; surface that instead of a bare AbortError.
    throw stall.reason() ?? e;
  } finally {
    stall.clear();
  }
}

/** Bytes of the `.part` that may be resumed from; a `.part` that cannot be trusted is removed. */
async function trustedOffset(opts: DownloadOptions, meta: PartMeta | undefined): Promise<number> {
  const { dest, url } = opts;
  const offset = (await statOrUndefined(`${dest}.part`))?.size ?? 0;
  if (offset === 0) return 0;
  if (meta?.url !== url || (opts.expectedSize !== undefined && offset > opts.expectedSize)) {
    // A .part from another URL or longer than the file: it cannot be a prefix of what we want.
    await resetPart(dest);
    return 0;
  }
  if (!strongEtag(meta?.etag) && !meta?.lastModified && opts.expectedSha256 === undefined) {
    // Without a validator (If-Range) the server cannot tell us the file changed since the .part was
    // written, and without a checksum we could not tell either: appending would splice two versions.
    opts.logger.info(
      { file: path.basename(dest) },
      'no ETag or Last-Modified to resume against; restarting download',
    );
    await resetPart(dest);
    return 0;
  }
  return offset;
}

/** The caller's signal joined with a stall timer that `arm()` restarts on every chunk. */
function stallGuard(opts: DownloadOptions) {
  const stall = new AbortController();
  const stallMs = opts.stallTimeoutMs ?? 60_000;
  let timer: NodeJS.Timeout | undefined;
  return {
    signal: opts.signal ? AbortSignal.any([opts.signal, stall.signal]) : stall.signal,
    arm() {
      clearTimeout(timer);
      timer = setTimeout(
        () => stall.abort(new TransientError(`no data from ${safeUrl(opts.url)} for ${stallMs} ms`)),
        stallMs,
      );
    },
    clear: () => clearTimeout(timer),
    /** Why the stall timer fired, when it did and the caller did not abort. */
    reason: (): unknown => (stall.signal.aborted && !opts.signal?.aborted ? stall.signal.reason : undefined),
  };
}

function requestHeaders(opts: DownloadOptions, offset: number, meta: PartMeta | undefined) {
  const headers: Record<string, string> = { 'accept-encoding': 'identity', ...opts.headers };
  if (offset > 0) {
    headers.range = `bytes=${offset}-`;
    const validator = strongEtag(meta?.etag) ?? meta?.lastModified;
    if (validator) headers['if-range'] = validator;
  }
  return headers;
}

/** Where the body goes: appended at `offset` (206) or from zero (200), `total` bytes in all if known. */
interface BodyPlan {
  offset: number;
  append: boolean;
  total: number | undefined;
}

/**
 * Reads the status and headers: a 416 that proves the `.part` complete finishes at once; a 206 must
 * continue exactly at `offset`; a 200 starts over (its sidecar written before the first byte); the
 * announced size must match the expected one.
 */
async function acceptResponse(
  res: Response,
  opts: DownloadOptions,
  offset: number,
  meta: PartMeta | undefined,
  run: RunState,
): Promise<BodyPlan | { done: DownloadResult }> {
  const { dest, url } = opts;
  if (res.status === 416 && offset > 0) {
    await res.body?.cancel();
    // `bytes */TOTAL`: our .part already holds the whole file (a run killed just before the rename).
    const m = /^bytes \*\/(\d+)$/.exec(res.headers.get('content-range')?.trim() ?? '');
    if (m && Number(m[1]) === offset) return { done: await finish(opts, offset) };
    await resetPart(dest);
    throw new TransientError('server refused to resume; starting over');
  }
  if (!res.ok) {
    await res.body?.cancel();
    throw new HttpStatusError(url, res.status, res.headers);
  }
  let plan: BodyPlan;
  if (res.status === 206) {
    const cr = parseContentRange(res.headers.get('content-range'));
    if (!cr || cr.start !== offset) {
      await res.body?.cancel();
      await resetPart(dest);
      throw new TransientError(`unexpected Content-Range from ${safeUrl(url)}; starting over`);
    }
    plan = { offset, append: true, total: cr.total };
  } else {
    // 200: the server ignored the Range (or If-Range said the file changed): start from zero.
    if (offset > 0)
      opts.logger.info({ file: path.basename(dest) }, 'server cannot resume; restarting download');
    run.firstOffset = 0;
    plan = { offset: 0, append: false, total: undefined };
    const len = res.headers.get('content-length');
    const encoded = (res.headers.get('content-encoding') ?? 'identity') !== 'identity';
    if (len !== null && !encoded) plan.total = Number(len);
    const newMeta: PartMeta = { url };
    const etag = res.headers.get('etag');
    const lastModified = res.headers.get('last-modified');
    if (etag) newMeta.etag = etag;
    if (lastModified) newMeta.lastModified = lastModified;
    if (plan.total !== undefined) newMeta.total = plan.total;
    // The sidecar is written before the first byte so a killed run knows what its .part belongs to.
    await writeFileAtomic(partMetaPath(dest), JSON.stringify(newMeta));
  }
  plan.total ??= opts.expectedSize ?? meta?.total;
  if (opts.expectedSize !== undefined && plan.total !== undefined && plan.total !== opts.expectedSize) {
    await res.body?.cancel();
    await resetPart(dest);
    throw new ChecksumError(
      `${path.basename(dest)}: server sends ${plan.total} bytes, expected ${opts.expectedSize}`,
    );
  }
  return plan;
}

/**
 * Streams the body into the `.part`, never more than announced (or, with no announcement, than the
 * cap), with a progress bar. Returns the `.part`'s size after it.
 */
async function writeBody(
  res: Response,
  opts: DownloadOptions,
  plan: BodyPlan,
  onChunk: () => void,
): Promise<number> {
  const bar = startProgress({
    label: opts.label,
    total: plan.total ?? 0,
    unit: 'bytes',
    logger: opts.logger,
    enabled: opts.progress !== false,
    start: plan.offset,
  });
  const fh = await fs.open(`${opts.dest}.part`, plan.append ? 'a' : 'w');
  const cap = plan.total ?? opts.maxBytes ?? DEFAULT_MAX_DOWNLOAD_BYTES;
  let written = plan.offset;
  let over = false;
  try {
    for await (const chunk of bodyChunks(res.body)) {
      onChunk();
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
    await resetPart(opts.dest);
    // Not retried: the same server would send the same.
    throw new Error(`${path.basename(opts.dest)}: the server sent more than ${cap} bytes; download refused`);
  }
  return written;
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

/**
 * One guarded HTTP download, for every image the bot fetches (index thumbnails, images users
 * share in Slack or Discord): only from allowed places, within a time limit, up to a size cap.
 *
 * Redirects are followed by hand and each target is checked again: fetch's own following would
 * skip the check, and a bearer token (Slack's) must never travel to another host. The size is
 * counted while reading, because Content-Length can be absent or lie. Failures are typed
 * ({@link GuardedFetchError.reason}) so each caller words them for its own users.
 */
import { deadline } from './deadline.ts';
import { readCapped } from './read-capped.ts';

/** What may be fetched, and how. */
export interface FetchGuard {
  /** May `url` be fetched? Asked for the first request and for every redirect target. */
  allow(url: URL): boolean;
  /** Largest body accepted; the download is cancelled past it. */
  maxBytes: number;
  /** Time limit for the whole download, body included. */
  timeoutMs: number;
  /** Redirects followed; 0 refuses any. */
  maxRedirects: number;
  headers?: Record<string, string>;
  /** Checked before the body is read: false refuses the response (e.g. an HTML login page). */
  acceptType?: (contentType: string) => boolean;
}

/** Why a guarded fetch gave nothing. */
export type FetchRefusal =
  | 'not_allowed'
  | 'too_many_redirects'
  | 'http_status'
  | 'wrong_type'
  | 'too_large'
  | 'timeout'
  | 'network';

export class GuardedFetchError extends Error {
  override readonly name = 'GuardedFetchError';
  readonly reason: FetchRefusal;
  /** The HTTP status, for `http_status`. */
  readonly status: number | undefined;

  constructor(reason: FetchRefusal, detail: string, opts: { status?: number; cause?: unknown } = {}) {
    super(detail, { cause: opts.cause });
    this.reason = reason;
    this.status = opts.status;
  }
}

export interface Fetched {
  bytes: Buffer;
  /** Lower-cased media type without parameters ('' when the response had none). */
  contentType: string;
  /** Where the bytes came from, after redirects. */
  url: URL;
}

/** The media type of a Content-Type header, lower-cased, parameters dropped. */
export function mediaType(header: string | null | undefined): string {
  return (header ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
}

/**
 * Downloads `start` under `guard`. Throws {@link GuardedFetchError}; when the caller's `signal`
 * aborts, rejects with its reason instead.
 */
export async function guardedFetch(start: URL, guard: FetchGuard, signal?: AbortSignal): Promise<Fetched> {
  signal?.throwIfAborted();
  if (!guard.allow(start))
    throw new GuardedFetchError('not_allowed', `refused ${start.protocol}//${start.host}`);
  const d = deadline(guard.timeoutMs, signal, 'download');
  let url = start;
  try {
    for (let hop = 0; ; hop++) {
      const res = await fetch(url, {
        signal: d.signal,
        redirect: 'manual',
        ...(guard.headers ? { headers: guard.headers } : {}),
      });
      const location = res.headers.get('location');
      if (res.status >= 300 && res.status < 400 && location) {
        await res.body?.cancel();
        if (hop >= guard.maxRedirects) {
          throw new GuardedFetchError('too_many_redirects', `too many redirects from ${start.host}`);
        }
        url = new URL(location, url);
        if (!guard.allow(url)) {
          throw new GuardedFetchError('not_allowed', `redirect to ${url.protocol}//${url.host} refused`);
        }
        continue;
      }
      if (!res.ok) {
        await res.body?.cancel();
        throw new GuardedFetchError('http_status', `${url.host} answered HTTP ${res.status}`, {
          status: res.status,
        });
      }
      const declared = Number(res.headers.get('content-length') ?? Number.NaN);
      if (declared > guard.maxBytes) {
        await res.body?.cancel();
        throw new GuardedFetchError(
          'too_large',
          `${url.host}: content-length ${declared} > ${guard.maxBytes}`,
        );
      }
      const contentType = mediaType(res.headers.get('content-type'));
      if (guard.acceptType && !guard.acceptType(contentType)) {
        await res.body?.cancel();
        throw new GuardedFetchError('wrong_type', `${url.host}: content-type ${contentType || 'none'}`);
      }
      if (!res.body) return { bytes: Buffer.alloc(0), contentType, url };
      const bytes = await readCapped(res.body, guard.maxBytes);
      if (!bytes) throw new GuardedFetchError('too_large', `${url.host}: body over ${guard.maxBytes} bytes`);
      return { bytes, contentType, url };
    }
  } catch (e) {
    if (e instanceof GuardedFetchError) throw e;
    if (signal?.aborted) throw signal.reason;
    if (d.signal.aborted) {
      throw new GuardedFetchError('timeout', `${url.host}: no answer within ${guard.timeoutMs} ms`, {
        cause: e,
      });
    }
    // Connection refused or reset, DNS hiccup.
    throw new GuardedFetchError('network', `${url.host}: ${e instanceof Error ? e.message : String(e)}`, {
      cause: e,
    });
  } finally {
    d.dispose();
  }
}

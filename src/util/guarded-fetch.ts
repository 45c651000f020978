/**
 * One guarded HTTP download, for every image the bot fetches (index thumbnails, images users
 * share in Slack or Discord): only from allowed places, within a time limit, up to a size cap.
 *
 * Redirects are followed by hand and each target is checked again: fetch's own following would
 * skip the check, and a bearer token (Slack's) must never travel to another host. The size is
 * counted while reading, because Content-Length can be absent or lie. Failures are typed
 * ({@link GuardedFetchError.reason}) so each caller words them for its own users.
 *
 * Where a request may land is decided here, for every hop: the caller's `allow` (names), then the
 * scheme's own port only, and public addresses only — no private, loopback, link-local (cloud
 * metadata at 169.254.169.254), unique-local, unspecified or mapped ones — unless the operator
 * configured that host (`trustedHosts`: IMAGE_HOSTS, a test peer's origin). A name is judged by the
 * addresses it resolves to inside the connection itself (a DNS lookup hook in the undici dispatcher),
 * so a name that resolves to a public address for a check and to 127.0.0.1 for the connection (DNS
 * rebinding) gains nothing: there is only the one lookup.
 */
import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from 'node:dns';
import { Agent, fetch as undiciFetch } from 'undici';
import { bareHost, isIpLiteral, isPublicAddress } from './addresses.ts';
import { deadline } from './deadline.ts';
import { readCapped } from './read-capped.ts';

/** What may be fetched, and how. */
export interface FetchGuard {
  /** May `url` be fetched? Asked for the first request and for every redirect target. */
  allow(url: URL): boolean;
  /**
   * Hosts the operator configured explicitly (exact names or IPs, `*.example.com` for subdomains;
   * a port is ignored): these may use any port and resolve to private addresses. Everything else
   * must be on its scheme's port at a public address.
   */
  trustedHosts?: readonly string[];
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

/** Raised inside the connection when a name resolves to an address the guard refuses. */
class AddressRefusedError extends Error {
  override readonly name = 'AddressRefusedError';
}

/** `host`, `host:port`, `[v6]:port` → the bare host name. */
function hostOnly(entry: string): string {
  const e = entry.trim();
  if (e.startsWith('[')) return bareHost(e.slice(0, e.indexOf(']') + 1));
  return bareHost(e.split(':').length === 2 ? (e.split(':')[0] ?? '') : e);
}

/** A matcher for configured hosts: exact names (any case, port ignored) and `*.suffix` entries. */
function trustMatcher(entries: readonly string[]): (host: string) => boolean {
  const exact = new Set<string>();
  const suffixes: string[] = [];
  for (const raw of entries) {
    const h = hostOnly(raw);
    if (h.startsWith('*.')) suffixes.push(h.slice(1));
    else if (h) exact.add(h);
  }
  return (host) => {
    const h = bareHost(host);
    return exact.has(h) || suffixes.some((s) => h.endsWith(s));
  };
}

type LookupCallback = (
  err: NodeJS.ErrnoException | null,
  address: string | LookupAddress[],
  family?: number,
) => void;

/**
 * A `lookup` for net.connect that resolves as usual and refuses the connection when any address is
 * not public (unless the name is trusted). One answer decides both the check and the connection.
 */
function checkedLookup(trusted: (host: string) => boolean) {
  return (hostname: string, options: LookupOptions, callback: LookupCallback): void => {
    dnsLookup(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err, []);
      if (!trusted(hostname)) {
        const bad = addresses.find((a) => !isPublicAddress(a.address));
        if (bad) {
          return callback(
            new AddressRefusedError(`${hostname} resolves to ${bad.address}, not a public address`),
            [],
          );
        }
      }
      if (options.all) return callback(null, addresses);
      const first = addresses[0];
      if (!first)
        return callback(Object.assign(new Error(`${hostname} has no address`), { code: 'ENOTFOUND' }), []);
      callback(null, first.address, first.family);
    });
  };
}

/** One dispatcher per set of trusted hosts, kept for the process: connections are reused across fetches. */
const dispatchers = new Map<string, Agent>();
function dispatcherFor(trustedHosts: readonly string[]): Agent {
  const key = [...trustedHosts].sort().join(',');
  let agent = dispatchers.get(key);
  if (!agent) {
    agent = new Agent({ connect: { lookup: checkedLookup(trustMatcher(trustedHosts)) } });
    dispatchers.set(key, agent);
  }
  return agent;
}

/** Why `url` may not be requested, judged before connecting (scheme, port, IP literals); undefined if it may. */
function refusedTarget(url: URL, trusted: (host: string) => boolean): string | undefined {
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return `${url.protocol} is not http(s)`;
  if (trusted(url.hostname)) return undefined;
  // URL leaves `port` empty for the scheme's own (80, 443).
  if (url.port !== '') return `${url.hostname}: port ${url.port} refused (only the scheme's own)`;
  if (isIpLiteral(url.hostname) && !isPublicAddress(url.hostname))
    return `${url.hostname}: not a public address`;
  return undefined;
}

function addressRefusal(e: unknown): AddressRefusedError | undefined {
  let cur: unknown = e;
  for (let depth = 0; depth < 5 && cur instanceof Error; depth++) {
    if (cur instanceof AddressRefusedError) return cur;
    cur = cur.cause;
  }
  return undefined;
}

/**
 * Downloads `start` under `guard`. Throws {@link GuardedFetchError}; when the caller's `signal`
 * aborts, rejects with its reason instead.
 */
export async function guardedFetch(start: URL, guard: FetchGuard, signal?: AbortSignal): Promise<Fetched> {
  signal?.throwIfAborted();
  const trusted = trustMatcher(guard.trustedHosts ?? []);
  const check = (url: URL, what: string) => {
    if (!guard.allow(url))
      throw new GuardedFetchError('not_allowed', `${what} ${url.protocol}//${url.host} refused`);
    const why = refusedTarget(url, trusted);
    if (why) throw new GuardedFetchError('not_allowed', `${what} refused: ${why}`);
  };
  check(start, 'request to');
  const dispatcher = dispatcherFor(guard.trustedHosts ?? []);
  const d = deadline(guard.timeoutMs, signal, 'download');
  let url = start;
  try {
    for (let hop = 0; ; hop++) {
      const res = await undiciFetch(url, {
        signal: d.signal,
        redirect: 'manual',
        dispatcher,
        ...(guard.headers ? { headers: guard.headers } : {}),
      });
      const location = res.headers.get('location');
      if (res.status >= 300 && res.status < 400 && location) {
        await res.body?.cancel();
        if (hop >= guard.maxRedirects) {
          throw new GuardedFetchError('too_many_redirects', `too many redirects from ${start.host}`);
        }
        url = new URL(location, url);
        check(url, 'redirect to');
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
      const bytes = await readCapped(res.body as ReadableStream<Uint8Array>, guard.maxBytes);
      if (!bytes) throw new GuardedFetchError('too_large', `${url.host}: body over ${guard.maxBytes} bytes`);
      return { bytes, contentType, url };
    }
  } catch (e) {
    if (e instanceof GuardedFetchError) throw e;
    if (signal?.aborted) throw signal.reason;
    const refused = addressRefusal(e);
    if (refused)
      throw new GuardedFetchError('not_allowed', `request refused: ${refused.message}`, { cause: e });
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

/**
 * Classifies what went wrong with a fetch so callers can decide: retry (network blip, 5xx),
 * give up on this item (404), or tell the user the host is unreachable (offline, DNS, firewall).
 */

/** A non-2xx answer. `retryable` for 5xx, 429 and 408. */
export class HttpStatusError extends Error {
  readonly status: number;
  readonly url: string;
  readonly retryable: boolean;
  /** Hugging Face puts the reason in `X-Error-Code` / `X-Error-Message` (RepoNotFound, GatedRepo, …). */
  readonly hubErrorCode: string | undefined;
  readonly hubErrorMessage: string | undefined;

  constructor(url: string, status: number, headers?: Headers) {
    super(`HTTP ${status} from ${safeUrl(url)}`);
    this.name = 'HttpStatusError';
    this.status = status;
    this.url = url;
    this.retryable = status >= 500 || status === 429 || status === 408;
    this.hubErrorCode = headers?.get('x-error-code') ?? undefined;
    this.hubErrorMessage = headers?.get('x-error-message') ?? undefined;
  }
}

/** A transient problem worth another try (short body, stalled transfer, bad Content-Range, checksum). */
export class TransientError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TransientError';
  }
}

/** The bytes arrived but are not the file the hub described. Retried; final when retries run out. */
export class ChecksumError extends TransientError {
  constructor(message: string) {
    super(message);
    this.name = 'ChecksumError';
  }
}

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_CLOSED',
]);

/** Codes that mean "could not connect at all": the host is unreachable rather than flaky mid-transfer. */
const UNREACHABLE_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_CONNECT_TIMEOUT',
]);

function errorCodes(e: unknown): string[] {
  const codes: string[] = [];
  let cur: unknown = e;
  for (let depth = 0; depth < 5 && typeof cur === 'object' && cur !== null; depth++) {
    const code = (cur as { code?: unknown }).code;
    if (typeof code === 'string') codes.push(code);
    const errors = (cur as { errors?: unknown }).errors;
    if (Array.isArray(errors)) for (const sub of errors) codes.push(...errorCodes(sub));
    cur = (cur as { cause?: unknown }).cause;
  }
  return codes;
}

/** True for errors raised by the network stack (undici's `fetch failed`, `terminated`, socket codes). */
export function isNetworkError(e: unknown): boolean {
  if (errorCodes(e).some((c) => NETWORK_CODES.has(c))) return true;
  return e instanceof TypeError && (e.message === 'fetch failed' || e.message === 'terminated');
}

/** True when the host could not be reached at all (refused, DNS failure, no route). */
export function isUnreachable(e: unknown): boolean {
  return errorCodes(e).some((c) => UNREACHABLE_CODES.has(c));
}

export function isTimeout(e: unknown): boolean {
  return e instanceof Error && (e.name === 'TimeoutError' || (e as { code?: unknown }).code === 'ETIMEDOUT');
}

/** Whether another attempt could succeed. */
export function isRetryable(e: unknown): boolean {
  if (e instanceof HttpStatusError) return e.retryable;
  // A name that does not resolve (offline, blocked, typo in HF_ENDPOINT) will not resolve in the
  // next 30 s of backoff either: say so at once. EAI_AGAIN (a DNS hiccup) stays retryable.
  if (errorCodes(e).includes('ENOTFOUND')) return false;
  return e instanceof TransientError || isNetworkError(e) || isTimeout(e);
}

/** URL without query string or credentials, for logs and messages (signed CDN URLs carry tokens). */
export function safeUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return '(invalid URL)';
  }
}

export function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return url;
  }
}

/** One short line describing an error for logs (no stack). */
export function describeError(e: unknown): string {
  if (e instanceof HttpStatusError) return e.message;
  const codes = errorCodes(e);
  const msg = e instanceof Error ? e.message : String(e);
  return codes.length > 0 ? `${msg} (${codes[codes.length - 1]})` : msg;
}

/**
 * Coded errors (after bolt-js): every error we raise on purpose carries a stable `code` and a
 * short, friendly `userMessage` that is safe to show in chat or on stderr. Details go to the log.
 */
export type ErrorCode =
  | 'config_invalid'
  | 'model_missing'
  | 'model_invalid'
  | 'index_missing'
  | 'index_invalid'
  | 'index_model_mismatch'
  | 'image_invalid'
  | 'image_too_large'
  | 'query_invalid'
  | 'fetch_failed'
  | 'host_not_allowed'
  | 'rate_limited'
  | 'busy'
  | 'state_unavailable'
  | 'not_found'
  | 'usage'
  | 'internal';

export class ImageSearchError extends Error {
  readonly code: ErrorCode;
  readonly userMessage: string;

  constructor(code: ErrorCode, userMessage: string, options?: { cause?: unknown; detail?: string }) {
    super(options?.detail ? `${userMessage} (${options.detail})` : userMessage, { cause: options?.cause });
    this.name = 'ImageSearchError';
    this.code = code;
    this.userMessage = userMessage;
  }
}

export function isImageSearchError(e: unknown): e is ImageSearchError {
  return e instanceof ImageSearchError;
}

/** Wraps anything thrown into an ImageSearchError; unknown errors become a generic `internal` one. */
export function asImageSearchError(e: unknown): ImageSearchError {
  if (e instanceof ImageSearchError) return e;
  return new ImageSearchError('internal', 'Something went wrong on our side. Please try again.', {
    cause: e,
  });
}

/**
 * Query by image: download a picture a user shared, for every platform, through the one guarded
 * fetch (src/util/guarded-fetch.ts). Only from the platform's own file origins (a crafted URL must
 * not make the bot fetch arbitrary hosts, nor carry Slack's bearer token anywhere else), only
 * images, only up to a size cap, within a time limit. Refusals are ImageSearchErrors whose
 * `userMessage` can be shown as it is.
 */
import { ImageSearchError } from '../../src/core/errors.ts';
import type { ImageInput } from '../../src/core/types.ts';
import { GuardedFetchError, guardedFetch, mediaType } from '../../src/util/guarded-fetch.ts';

/** Content types CLIP preprocessing (sharp) can read. */
const IMAGE_TYPES = new Set(['image/jpeg', 'image/png', 'image/webp', 'image/gif', 'image/avif']);
const IMAGE_NAME = /\.(jpe?g|png|webp|gif|avif)$/i;

/** A file as the platform describes it, before a byte is fetched. */
export interface ImageRef {
  url: string | undefined;
  name?: string | undefined;
  /** The type the platform declared, if any. */
  mime?: string | null | undefined;
  /** The size the platform declared, if any. */
  size?: number | undefined;
}

/** Where, how much and how long. */
export interface ImageDownloadPolicy {
  /** Origins (`https://host[:port]`) the file and every redirect may come from. */
  origins: ReadonlySet<string>;
  maxBytes: number;
  timeoutMs: number;
  /** Redirects followed, each target checked against `origins`; 0 refuses any. */
  maxRedirects: number;
  /** Request headers (Slack's bearer token). */
  headers?: Record<string, string>;
  /** How a refusal names where images must come from: "shared in Slack". */
  where: string;
}

/** True when the declared type (or, without one, the name) is an image we could search with. */
export function isImageFile(ref: Pick<ImageRef, 'name' | 'mime'>): boolean {
  const type = mediaType(ref.mime);
  if (type) return IMAGE_TYPES.has(type);
  return IMAGE_NAME.test(ref.name ?? '');
}

const notAnImage = (detail?: string) =>
  new ImageSearchError(
    'image_invalid',
    'That file is not an image I can search with (JPEG, PNG, WebP or GIF).',
    {
      ...(detail ? { detail } : {}),
    },
  );

/** Downloads one shared image under `policy`. */
export async function downloadImage(
  ref: ImageRef,
  policy: ImageDownloadPolicy,
  signal?: AbortSignal,
): Promise<ImageInput> {
  const refused = (detail: string) =>
    new ImageSearchError('host_not_allowed', `I can only read images ${policy.where}.`, { detail });
  const tooLarge = (detail?: string) =>
    new ImageSearchError(
      'image_too_large',
      `That image is too large (max ${Math.round(policy.maxBytes / 1048576)} MB).`,
      detail ? { detail } : {},
    );
  if (!ref.url)
    throw new ImageSearchError('image_invalid', "I couldn't read that image.", { detail: 'no url' });
  let url: URL;
  try {
    url = new URL(ref.url);
  } catch (cause) {
    throw new ImageSearchError('host_not_allowed', `I can only read images ${policy.where}.`, { cause });
  }
  const allow = (u: URL) => policy.origins.has(u.origin) && u.username === '' && u.password === '';
  if (!allow(url)) throw refused(`origin ${url.origin}`);
  if (!isImageFile(ref)) throw notAnImage(mediaType(ref.mime) || ref.name);
  if (ref.size !== undefined && ref.size > policy.maxBytes) throw tooLarge();

  try {
    const fetched = await guardedFetch(
      url,
      {
        allow,
        // Every origin here is one the platform or its harness names exactly (scheme, host and
        // port, for every hop): trusted as configured, so a private DNS answer for a platform's
        // file host (a corporate proxy) still works, and a local test peer is reachable.
        trustedHosts: [...policy.origins].map((o) => new URL(o).hostname),
        maxBytes: policy.maxBytes,
        timeoutMs: policy.timeoutMs,
        maxRedirects: policy.maxRedirects,
        ...(policy.headers ? { headers: policy.headers } : {}),
        // A login page (Slack, without files:read) or any other non-image is refused unread.
        acceptType: (type) => IMAGE_TYPES.has(type) || type === 'application/octet-stream',
      },
      signal,
    );
    const mime = IMAGE_TYPES.has(fetched.contentType) ? fetched.contentType : mediaType(ref.mime);
    return { bytes: fetched.bytes, mime, ...(ref.name ? { name: ref.name } : {}) };
  } catch (e) {
    if (!(e instanceof GuardedFetchError)) throw e;
    switch (e.reason) {
      case 'not_allowed':
        throw refused(e.message);
      case 'too_large':
        throw tooLarge(e.message);
      case 'wrong_type':
        throw notAnImage(e.message);
      default:
        throw new ImageSearchError('fetch_failed', "I couldn't download that image. Please try again.", {
          cause: e,
          detail: e.message,
        });
    }
  }
}

/**
 * Query by image: download a user's attachment, but only from Discord's own CDN (plus the local
 * peer in tests), only images, and only up to a size cap. Anything else is refused before a byte
 * is fetched, so a crafted attachment URL can't make the bot fetch arbitrary hosts.
 */

import { ImageSearchError } from '../../src/core/errors.ts';
import type { ImageInput } from '../../src/core/types.ts';
import { deadline } from '../../src/util/deadline.ts';
import { readCapped } from '../../src/util/read-capped.ts';

/** Where Discord serves attachments. https only. */
export const DISCORD_CDN_ORIGINS = ['https://cdn.discordapp.com', 'https://media.discordapp.net'] as const;

/** Content types CLIP preprocessing (sharp) can read. */
const IMAGE_TYPES = new Set(['image/jpeg', 'image/png', 'image/webp', 'image/gif', 'image/avif']);

/** What may be downloaded. */
export interface ImageFetchPolicy {
  /** Origins (`scheme://host[:port]`) attachments may come from. */
  allowedOrigins: ReadonlySet<string>;
  /** Largest image accepted, in bytes. */
  maxBytes: number;
  /** Deadline for one download. */
  timeoutMs: number;
}

/** The attachment fields we need; discord.js `Attachment` satisfies it. */
export interface AttachmentLike {
  url: string;
  name: string;
  size: number;
  contentType: string | null;
}

/**
 * Allowed origins: Discord's CDN, plus the origin of `DISCORD_API_URL` when it is set, because a
 * self-hosted or test peer serves its attachments from its own address.
 */
export function imageOrigins(apiUrl?: string): Set<string> {
  const origins = new Set<string>(DISCORD_CDN_ORIGINS);
  if (apiUrl) origins.add(new URL(apiUrl).origin);
  return origins;
}

/** True when the attachment looks like an image we could search with (by declared type or name). */
export function isImageAttachment(att: AttachmentLike): boolean {
  const type = att.contentType?.split(';')[0]?.trim().toLowerCase();
  if (type) return IMAGE_TYPES.has(type);
  return /\.(jpe?g|png|webp|gif|avif)$/i.test(att.name);
}

/** Downloads an attachment under `policy`. Throws an {@link ImageSearchError} with a friendly message. */
export async function fetchAttachmentImage(
  att: AttachmentLike,
  policy: ImageFetchPolicy,
  signal?: AbortSignal,
): Promise<ImageInput> {
  let url: URL;
  try {
    url = new URL(att.url);
  } catch (cause) {
    throw new ImageSearchError('host_not_allowed', 'I can only read images uploaded to Discord.', { cause });
  }
  if (!policy.allowedOrigins.has(url.origin)) {
    throw new ImageSearchError('host_not_allowed', 'I can only read images uploaded to Discord.', {
      detail: `origin ${url.origin}`,
    });
  }
  if (!isImageAttachment(att)) {
    throw new ImageSearchError(
      'image_invalid',
      'That file is not an image I can search with (JPEG, PNG, WebP or GIF).',
    );
  }
  const tooLarge = () =>
    new ImageSearchError(
      'image_too_large',
      `That image is too large (max ${Math.round(policy.maxBytes / 1048576)} MB).`,
    );
  if (att.size > policy.maxBytes) throw tooLarge();

  // Not AbortSignal.any(AbortSignal.timeout): see src/core/deadline.ts. The timer lives until the
  // process drops it (a few seconds), covering the body read below too.
  const { signal: timeout } = deadline(policy.timeoutMs, signal, 'image download');
  const res = await fetch(url, {
    // A redirect could leave the allow-list; Discord's CDN answers directly.
    redirect: 'error',
    signal: timeout,
  }).catch((cause: unknown) => {
    throw new ImageSearchError('fetch_failed', "I couldn't download that image. Please try again.", {
      cause,
    });
  });
  if (!res.ok || !res.body) {
    throw new ImageSearchError('fetch_failed', "I couldn't download that image. Please try again.", {
      detail: `HTTP ${res.status}`,
    });
  }
  const mime = res.headers.get('content-type')?.split(';')[0]?.trim().toLowerCase();
  if (!mime || !IMAGE_TYPES.has(mime)) {
    await res.body.cancel();
    throw new ImageSearchError(
      'image_invalid',
      'That file is not an image I can search with (JPEG, PNG, WebP or GIF).',
      {
        detail: `content-type ${mime ?? 'none'}`,
      },
    );
  }
  // The declared size can lie; count while reading and stop at the cap.
  const bytes = await readCapped(res.body, policy.maxBytes);
  if (!bytes) throw tooLarge();
  return { bytes, mime, name: att.name };
}

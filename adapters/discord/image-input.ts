/**
 * Query by image: a user's attachment, downloaded through the adapters' one guarded downloader
 * (../kit/download.ts), only from Discord's own CDN, only images, only up to a size cap. Anything
 * else is refused before a byte is fetched, so a crafted attachment URL can't make the bot fetch
 * arbitrary hosts.
 */
import type { ImageInput } from '../../src/core/types.ts';
import { downloadImage, isImageFile } from '../kit/download.ts';

/** Where Discord serves attachments. https only. */
export const DISCORD_CDN_ORIGINS = ['https://cdn.discordapp.com', 'https://media.discordapp.net'] as const;

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
 * Allowed origins: Discord's CDN plus `extra` ones (a local test peer serves its attachments from
 * its own address; its harness says so). DISCORD_API_URL never adds one by itself.
 */
export function attachmentOrigins(extra: readonly string[] = []): Set<string> {
  return new Set<string>([...DISCORD_CDN_ORIGINS, ...extra.map((o) => new URL(o).origin)]);
}

/** True when the attachment looks like an image we could search with (by declared type or name). */
export function isImageAttachment(att: AttachmentLike): boolean {
  return isImageFile({ name: att.name, mime: att.contentType });
}

/** Downloads an attachment under `policy`. Throws an ImageSearchError with a friendly message. */
export function fetchAttachmentImage(
  att: AttachmentLike,
  policy: ImageFetchPolicy,
  signal?: AbortSignal,
): Promise<ImageInput> {
  return downloadImage(
    { url: att.url, name: att.name, mime: att.contentType, size: att.size },
    {
      origins: policy.allowedOrigins,
      maxBytes: policy.maxBytes,
      timeoutMs: policy.timeoutMs,
      // Discord's CDN answers directly; a redirect could only lead off the allow-list.
      maxRedirects: 0,
      where: 'uploaded to Discord',
    },
    signal,
  );
}

/**
 * Files users share in Slack, for query by image: which one to use, where the bot token may be
 * sent to fetch it, and the download itself through the adapters' one guarded downloader.
 */
import type { ImageInput } from '../../src/core/types.ts';
import { downloadImage } from '../kit/download.ts';

/** The fields of a shared file this module reads (Slack's `files[]` entries in message events). */
export interface SlackFileRef {
  id?: string;
  name?: string;
  mimetype?: string;
  size?: number;
  url_private_download?: string;
  url_private?: string;
}

/** How downloads are allowed to happen. */
export interface SlackDownloadPolicy {
  botToken: string;
  /** Origins (`https://host[:port]`) the token may be sent to; see {@link slackFileOrigins}. */
  origins: ReadonlySet<string>;
  maxBytes: number;
  timeoutMs?: number;
}

/** Where Slack serves shared files. */
export const SLACK_FILE_ORIGIN = 'https://files.slack.com';

/**
 * Slack's file origin plus `extra` ones (a local test peer, set explicitly by its harness). The
 * configured SLACK_API_URL never adds one by itself: the bot token goes where this list says only.
 */
export function slackFileOrigins(extra: readonly string[] = []): Set<string> {
  return new Set([SLACK_FILE_ORIGIN, ...extra.map((o) => new URL(o).origin)]);
}

/** The first image among shared files, or undefined when none is an image. */
export function firstImageFile(files: readonly SlackFileRef[] | undefined): SlackFileRef | undefined {
  return files?.find((f) => typeof f.mimetype === 'string' && f.mimetype.startsWith('image/'));
}

/** Downloads a shared image with the bot token. Throws ImageSearchError with a friendly message on any refusal. */
export function downloadSlackImage(file: SlackFileRef, policy: SlackDownloadPolicy): Promise<ImageInput> {
  return downloadImage(
    {
      url: file.url_private_download ?? file.url_private,
      name: file.name,
      mime: file.mimetype,
      size: file.size,
    },
    {
      origins: policy.origins,
      maxBytes: policy.maxBytes,
      timeoutMs: policy.timeoutMs ?? 15_000,
      maxRedirects: 3,
      headers: { Authorization: `Bearer ${policy.botToken}` },
      where: 'shared in Slack',
    },
  );
}

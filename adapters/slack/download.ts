/**
 * Query by image: fetch a file a user shared, with the bot token, only from Slack's own file hosts.
 * The bearer token must never travel to any other host, so redirects are followed by hand and
 * re-checked against the allow-list.
 */

import { ImageSearchError } from '../../src/core/errors.ts';
import type { ImageInput } from '../../src/core/types.ts';
import { readCapped } from '../../src/util/read-capped.ts';

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
export interface DownloadPolicy {
  botToken: string;
  /** Lower-case host names (with port when not default) the token may be sent to. */
  allowedHosts: ReadonlySet<string>;
  maxBytes: number;
  /** Hosts reached over plain http (only the configured local test API). Others need https. */
  insecureHosts?: ReadonlySet<string>;
  timeoutMs?: number;
}

/** Slack's file host, plus the configured Web API host (a local fake in tests, a proxy in some setups). */
export function slackFileHosts(apiUrl: string | undefined): { allowed: Set<string>; insecure: Set<string> } {
  const allowed = new Set(['files.slack.com']);
  const insecure = new Set<string>();
  if (apiUrl) {
    const u = new URL(apiUrl);
    allowed.add(u.host.toLowerCase());
    if (u.protocol === 'http:') insecure.add(u.host.toLowerCase());
  }
  return { allowed, insecure };
}

/** The first image among shared files, or undefined when none is an image. */
export function firstImageFile(files: readonly SlackFileRef[] | undefined): SlackFileRef | undefined {
  return files?.find((f) => typeof f.mimetype === 'string' && f.mimetype.startsWith('image/'));
}

function checkUrl(raw: string, policy: DownloadPolicy): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ImageSearchError('host_not_allowed', 'I can only read images shared in Slack.', {
      detail: 'bad url',
    });
  }
  const host = url.host.toLowerCase();
  const secureOk = url.protocol === 'https:';
  const insecureOk = url.protocol === 'http:' && (policy.insecureHosts?.has(host) ?? false);
  if (!policy.allowedHosts.has(host) || !(secureOk || insecureOk)) {
    throw new ImageSearchError('host_not_allowed', 'I can only read images shared in Slack.', {
      detail: `host ${host} not in the Slack file allow-list`,
    });
  }
  return url;
}

/** Downloads a shared image. Throws ImageSearchError with a friendly message on any refusal. */
export async function downloadSlackImage(file: SlackFileRef, policy: DownloadPolicy): Promise<ImageInput> {
  const mime = file.mimetype ?? '';
  if (!mime.startsWith('image/')) {
    throw new ImageSearchError('image_invalid', 'That file is not an image I can search with.', {
      detail: mime,
    });
  }
  const tooLarge = () =>
    new ImageSearchError(
      'image_too_large',
      `That image is too large (limit ${Math.round(policy.maxBytes / 1e6)} MB).`,
    );
  if (file.size !== undefined && file.size > policy.maxBytes) throw tooLarge();
  const source = file.url_private_download ?? file.url_private;
  if (!source)
    throw new ImageSearchError('image_invalid', 'I could not read that image.', { detail: 'no url' });

  let url = checkUrl(source, policy);
  const signal = AbortSignal.timeout(policy.timeoutMs ?? 15_000);
  for (let hop = 0; hop < 4; hop++) {
    const res = await fetch(url, {
      headers: { Authorization: `Bearer ${policy.botToken}` },
      redirect: 'manual',
      signal,
    }).catch((e: unknown) => {
      throw new ImageSearchError('fetch_failed', 'I could not download that image.', { cause: e });
    });
    if (res.status >= 300 && res.status < 400) {
      const next = res.headers.get('location');
      await res.body?.cancel();
      if (!next) break;
      url = checkUrl(new URL(next, url).toString(), policy);
      continue;
    }
    if (!res.ok || !res.body) {
      await res.body?.cancel();
      throw new ImageSearchError('fetch_failed', 'I could not download that image.', {
        detail: `HTTP ${res.status}`,
      });
    }
    const declared = Number(res.headers.get('content-length') ?? '0');
    if (declared > policy.maxBytes) {
      await res.body.cancel();
      throw tooLarge();
    }
    // Slack answers an HTML login page (200) when the token lacks files:read: refuse non-images.
    const type = res.headers.get('content-type') ?? '';
    if (type && !type.startsWith('image/') && !type.startsWith('application/octet-stream')) {
      await res.body.cancel();
      throw new ImageSearchError('image_invalid', 'I could not read that image.', {
        detail: `content-type ${type}`,
      });
    }
    const bytes = await readCapped(res.body, policy.maxBytes);
    if (!bytes) throw tooLarge();
    const image: ImageInput = { bytes, mime };
    if (file.name) image.name = file.name;
    return image;
  }
  throw new ImageSearchError('fetch_failed', 'I could not download that image.', {
    detail: 'too many redirects',
  });
}

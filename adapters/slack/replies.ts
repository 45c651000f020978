/**
 * Turns a core {@link BotReply} into Slack messages inside one result thread.
 *
 * Thread root strategy: a new search first posts a short root message ("Searching for …") with
 * chat.postMessage, whose response carries its `ts` synchronously. That ts names the conversation
 * (`slack:T:C:ts`) before the core runs. The grid is then uploaded WITHOUT a channel (so Slack shares
 * it nowhere) and the root is edited into the one result message: query and credits, the grid as an
 * `image` block (`slack_file: { id }`), and the buttons. Follow-ups post the same kind of message in
 * the thread. Slack processes uploads asynchronously and refuses blocks that name a file it has not
 * processed yet (`invalid_blocks`), so that call is retried briefly; if it is still refused, the grid
 * is shared into the thread as a file and the message keeps text and buttons. See README, "Thread root".
 */
import type { types, webApi } from '@slack/bolt';
import type { BotReply } from '../../src/core/types.ts';
import type { Logger } from '../../src/util/logger.ts';
import { noteMessage, noticeText, type RenderedMessage, resultMessage } from './blocks.ts';
import { escapeSlackText } from './text.ts';
import { shareImage, uploadPrivateImage } from './upload.ts';

/**
 * Waits between attempts while Slack refuses an image block as `invalid_blocks` (the file is still
 * being processed): 5 attempts within about 4 s, then the file-share fallback.
 */
export const IMAGE_READY_RETRY_MS: readonly number[] = [250, 500, 1000, 2000];

/** How replies are delivered; the defaults suit production. */
export interface DeliveryOptions {
  /** Waits between attempts when an image block is refused as `invalid_blocks`; default {@link IMAGE_READY_RETRY_MS}. */
  imageReadyRetryMs?: readonly number[];
  /** Where fallbacks and clean-up failures are logged. */
  logger?: Logger;
}

/** The Slack error code of a Web API failure (`not_in_channel`, `invalid_blocks`, …), if it is one. */
export function slackErrorCode(e: unknown): string | undefined {
  if (typeof e !== 'object' || e === null || !('data' in e)) return undefined;
  const data = (e as { data: unknown }).data;
  if (typeof data !== 'object' || data === null || !('error' in data)) return undefined;
  const code = (data as { error: unknown }).error;
  return typeof code === 'string' ? code : undefined;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Where a reply goes. */
export interface ThreadTarget {
  client: webApi.WebClient;
  channel: string;
  /** The conversation's thread root. */
  threadTs: string;
  /** Slack user id (no prefix) of the person asking; ephemeral notes go to them. */
  userId: string;
  /** Root placeholder this request posted; it becomes the result (or notice) message. */
  placeholderTs?: string;
}

/** Posts the root placeholder of a new search and returns its ts (the conversation's thread root). */
export async function postPlaceholder(
  client: webApi.WebClient,
  channel: string,
  query: string,
): Promise<string> {
  const label = query ? `:mag: Searching for *${escapeSlackText(query)}*…` : ':mag: Searching…';
  const res = await client.chat.postMessage({
    channel,
    text: label,
    unfurl_links: false,
    unfurl_media: false,
  });
  if (!res.ts) throw new Error('chat.postMessage returned no ts');
  return res.ts;
}

async function postOrUpdate(
  target: ThreadTarget,
  message: { text: string; blocks?: types.KnownBlock[] },
): Promise<void> {
  const { client, channel } = target;
  if (target.placeholderTs) {
    await client.chat.update({ channel, ts: target.placeholderTs, ...message });
  } else {
    await client.chat.postMessage({
      channel,
      thread_ts: target.threadTs,
      ...message,
      unfurl_links: false,
      unfurl_media: false,
    });
  }
}

/**
 * Posts (or edits the root into) a message whose blocks reference an uploaded file, retrying while
 * Slack answers `invalid_blocks`. Returns false when it was still refused after the last wait; other
 * errors are thrown.
 */
async function postWithImage(
  target: ThreadTarget,
  message: RenderedMessage,
  delays: readonly number[],
): Promise<boolean> {
  for (let attempt = 0; ; attempt += 1) {
    try {
      await postOrUpdate(target, message);
      return true;
    } catch (e) {
      if (slackErrorCode(e) !== 'invalid_blocks') throw e;
      const wait = delays[attempt];
      if (wait === undefined) return false;
      await sleep(wait);
    }
  }
}

/** Renders one reply. Throws on Slack API failures; the caller turns that into a friendly note. */
export async function deliverReply(
  target: ThreadTarget,
  reply: BotReply,
  opts: DeliveryOptions = {},
): Promise<void> {
  const { client, channel, threadTs } = target;
  switch (reply.kind) {
    case 'results': {
      const r = reply.reply;
      const n = r.picks.length;
      const altText =
        n > 1 ? `${n} photos for “${r.query}”, numbered 1 to ${n}` : `Photo for “${r.query}”, numbered 1`;
      // Grid first: if the upload fails, no message may show buttons for pictures nobody can see.
      const fileId = await uploadPrivateImage(client, { bytes: r.grid, fileName: r.fileName, altText });
      const withImage = resultMessage(reply.text, reply.actions, { fileId, altText });
      if (await postWithImage(target, withImage, opts.imageReadyRetryMs ?? IMAGE_READY_RETRY_MS)) return;

      // Still refused: share the grid into the thread as a file, then text and buttons without it.
      opts.logger?.warn(
        { channel, threadTs, fileId },
        'slack: image block still refused (invalid_blocks); sharing the grid in the thread instead',
      );
      await shareImage(client, {
        channel,
        threadTs,
        bytes: r.grid,
        fileName: r.fileName,
        comment: r.caption,
        altText,
      });
      await postOrUpdate(target, resultMessage(reply.text, reply.actions));
      // The unshared upload is now an orphan only the bot can see; remove it (best effort).
      await client.files.delete({ file: fileId }).catch((e: unknown) => {
        opts.logger?.warn({ err: e, fileId }, 'slack: could not delete the unused grid upload');
      });
      return;
    }
    case 'open': {
      if (reply.image) {
        await shareImage(client, {
          channel,
          threadTs,
          bytes: reply.image.bytes,
          fileName: reply.image.fileName,
          comment: reply.text,
          altText: reply.pick.entry.description ?? `Photo ${reply.pick.n}`,
        });
        return;
      }
      await postOrUpdate(target, noteMessage(reply.text));
      return;
    }
    case 'notice': {
      const text = noticeText(reply.text, reply.level);
      if (reply.ephemeral) {
        // A root that only said "Searching…" has no purpose once the answer goes to one person; it is
        // deleted, so the note goes to the channel rather than into a thread that disappears.
        const inThread = target.placeholderTs ? {} : { thread_ts: threadTs };
        await client.chat.postEphemeral({ channel, user: target.userId, ...inThread, ...noteMessage(text) });
        if (target.placeholderTs) await client.chat.delete({ channel, ts: target.placeholderTs });
        return;
      }
      await postOrUpdate(target, noteMessage(text));
      return;
    }
  }
}

/** A short friendly error where the user will see it: the root placeholder, else the thread. */
export async function deliverError(target: ThreadTarget, userMessage: string): Promise<void> {
  await postOrUpdate(target, noteMessage(`:warning: ${userMessage}`));
}

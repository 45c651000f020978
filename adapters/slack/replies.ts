/**
 * Turns a core {@link BotReply} into Slack messages inside one result thread.
 *
 * Thread root strategy: a new search first posts a short root message ("Searching for …") with
 * chat.postMessage, whose response carries its `ts` synchronously. That ts names the conversation
 * (`slack:T:C:ts`) before the core runs, the grid is uploaded into its thread with
 * `thread_ts` (file sharing is asynchronous, but we never need the file message's ts), and the
 * root is then edited into the result: query, credits and buttons. See README, "Thread root".
 */
import type { types, webApi } from '@slack/bolt';
import type { BotReply } from '../../src/core/types.ts';
import { noteMessage, noticeText, resultMessage } from './blocks.ts';
import { escapeSlackText } from './text.ts';
import { uploadImage } from './upload.ts';

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

async function postOrUpdate(target: ThreadTarget, message: { text: string; blocks?: types.KnownBlock[] }) {
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

/** Renders one reply. Throws on Slack API failures; the caller turns that into a friendly note. */
export async function deliverReply(target: ThreadTarget, reply: BotReply): Promise<void> {
  const { client, channel, threadTs } = target;
  switch (reply.kind) {
    case 'results': {
      const r = reply.reply;
      // Grid first: if the upload fails, the root must not show buttons for pictures nobody can see.
      await uploadImage(client, {
        channel,
        threadTs,
        bytes: r.grid,
        fileName: r.fileName,
        comment: r.caption,
        altText: `Four photos for “${r.query}”, numbered 1 to 4`,
      });
      await postOrUpdate(target, resultMessage(reply.text, reply.actions));
      return;
    }
    case 'open': {
      if (reply.image) {
        await uploadImage(client, {
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

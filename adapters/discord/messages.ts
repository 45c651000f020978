/**
 * MESSAGE_CREATE: `@bot cats on a sofa` starts a search (reply + thread); in a result thread a
 * mention (or, with the Message Content intent, any message) refines it.
 */
import type { Attachment, Message } from 'discord.js';
import type { BotReply, ImageInput, SearchRequest } from '../../src/core/types.ts';
import { helpText, mentionsUser, truncate } from '../kit/text.ts';
import {
  conversationIdFor,
  type DiscordContext,
  failureNotice,
  firstDelivery,
  startThreadOn,
  userIdFor,
} from './context.ts';
import { fetchAttachmentImage, isImageAttachment } from './image-input.ts';
import { safeError } from './log-safe.ts';
import { NO_MENTIONS, renderReply, textPayload } from './render.ts';
import { cleanDiscordText } from './text.ts';

const HELP = helpText('`@imagesearch cats on a sofa`');

/** Handles one MESSAGE_CREATE. Never throws; everything is logged. */
export async function onMessage(ctx: DiscordContext, message: Message): Promise<void> {
  const me = ctx.client.user;
  if (!me) return;
  // Bots (this one included) and webhooks never trigger a search: no loops, no bot-to-bot ping-pong.
  if (message.author.bot || message.author.id === me.id || message.webhookId || message.system) return;
  if (!message.inGuild()) return;

  const channel = message.channel;
  const ourThread = channel.isThread() && channel.ownerId === me.id;
  const mentioned = isBotMentioned(message, me.id);
  // Without the Message Content intent an un-mentioned message arrives with empty content and no
  // attachments, so only mentions can be understood there.
  if (!mentioned && !(ourThread && ctx.settings.messageContent)) return;
  if (!(await firstDelivery(ctx, `message:${message.id}`))) {
    ctx.logger.debug({ messageId: message.id }, 'discord: duplicate message ignored');
    return;
  }

  const log = ctx.logger.child({ messageId: message.id, guildId: message.guildId, channelId: channel.id });
  const text = cleanDiscordText(message.content);
  const attachment = pickAttachment(message, text);
  if (!text && !attachment) {
    if (mentioned) await send(() => message.reply(textPayload(HELP)), log);
    return;
  }

  let image: ImageInput | undefined;
  if (attachment) {
    try {
      image = await fetchAttachmentImage(attachment, ctx.imagePolicy);
    } catch (e) {
      const notice = failureNotice(ctx, e, { messageId: message.id, attachment: attachment.name });
      await send(() => message.reply(textPayloadOf(notice)), log);
      return;
    }
  }

  const base = {
    platform: 'discord',
    userId: userIdFor(message.author.id),
    requestId: message.id,
    ...(text ? { text } : {}),
    ...(image ? { image } : {}),
  } satisfies Partial<SearchRequest>;
  const context = { messageId: message.id, guildId: message.guildId, channelId: channel.id };
  const render = async (reply: BotReply) =>
    (await renderReply(reply, { maxUploadBytes: ctx.settings.maxUploadBytes })).payload;

  if (channel.isThread()) {
    // Any thread: answer in place. In our own result threads the message refines the search.
    void channel.sendTyping().catch(() => undefined);
    const inThread = async (reply: BotReply) => {
      await channel.send(await render(reply));
    };
    ctx.flow.submit({
      conversationId: conversationIdFor(message.guildId, channel.id),
      request: (conversationId) => ({ ...base, conversationId, followUp: ourThread }),
      port: { deliver: inThread, fail: inThread },
      context,
    });
    return;
  }

  // Top level: post a placeholder reply first. A thread started on it gets the placeholder's id,
  // which is therefore the conversation id before the core is asked, and the user sees progress.
  let placeholder: Message | undefined;
  const onPlaceholder = async (reply: BotReply) => {
    const payload = await render(reply);
    await (placeholder ? placeholder.edit(payload) : message.reply(payload));
  };
  ctx.flow.submit({
    request: (conversationId) => ({ ...base, conversationId, followUp: false }),
    port: {
      postPlaceholder: async () => {
        placeholder = await message.reply({
          content: truncate(
            text ? `🔎 Searching for “${text}”…` : '🔎 Searching for photos like yours…',
            2000,
          ),
          allowedMentions: NO_MENTIONS,
        });
        await startThreadOn(ctx, channel.id, placeholder.id, text || 'photos like yours');
        return conversationIdFor(message.guildId, placeholder.id);
      },
      deliver: onPlaceholder,
      fail: onPlaceholder,
    },
    context,
  });
}

/** A direct `<@bot>` mention, a reply that pings the bot, or the bot's managed role. */
function isBotMentioned(message: Message<true>, botId: string): boolean {
  if (message.mentions.users.has(botId) || mentionsUser(message.content, botId)) return true;
  return message.mentions.roles.some((role) => role.tags?.botId === botId);
}

/** The image to search with: the first image attachment; or, with no text, whatever was attached (to explain why not). */
function pickAttachment(message: Message, text: string): Attachment | undefined {
  return (
    message.attachments.find((a) => isImageAttachment(a)) ?? (text ? undefined : message.attachments.first())
  );
}

function textPayloadOf(reply: BotReply) {
  return textPayload(reply.text);
}

/** Runs one Discord call; on failure logs it and returns undefined (there is nowhere left to tell the user). */
async function send<T>(call: () => Promise<T>, log: DiscordContext['logger']): Promise<T | undefined> {
  try {
    return await call();
  } catch (e) {
    log.error({ err: safeError(e) }, 'discord: sending the reply failed');
    return undefined;
  }
}

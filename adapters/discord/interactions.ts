/**
 * INTERACTION_CREATE: `/imagesearch query:<text>` (type 2) and the result buttons (type 3).
 * Both are acknowledged before anything slow happens: Discord drops an interaction that is not
 * answered within 3 s ("Unknown interaction"); a deferred one may be completed for 15 minutes.
 */
import {
  type ButtonInteraction,
  type ChatInputCommandInteraction,
  type Interaction,
  type InteractionReplyOptions,
  MessageFlags,
} from 'discord.js';
import { decodeAction } from '../../src/core/actions.ts';
import type { BotReply, ImageInput } from '../../src/core/types.ts';
import { COMMAND_NAME, IMAGE_OPTION, QUERY_OPTION } from './commands.ts';
import {
  conversationIdFor,
  type DiscordContext,
  failureNotice,
  firstDelivery,
  startThreadOn,
  threadOf,
  userIdFor,
} from './context.ts';
import { fetchAttachmentImage } from './image-input.ts';
import { safeError } from './log-safe.ts';
import { DEFAULT_MAX_UPLOAD_BYTES, type RenderedReply, renderReply, textPayload } from './render.ts';
import { cleanDiscordText } from './text.ts';

/** Handles one INTERACTION_CREATE. Never throws; everything is logged. */
export async function onInteraction(ctx: DiscordContext, interaction: Interaction): Promise<void> {
  if (interaction.isChatInputCommand() && interaction.commandName === COMMAND_NAME) {
    await guarded(ctx, interaction.id, () => onSlashCommand(ctx, interaction));
  } else if (interaction.isButton() && decodeAction(interaction.customId)) {
    await guarded(ctx, interaction.id, () => onButton(ctx, interaction));
  }
}

async function guarded(ctx: DiscordContext, id: string, run: () => Promise<void>): Promise<void> {
  if (!(await firstDelivery(ctx, `interaction:${id}`))) {
    ctx.logger.debug({ interactionId: id }, 'discord: duplicate interaction ignored');
    return;
  }
  try {
    await run();
  } catch (e) {
    ctx.logger.error({ err: safeError(e), interactionId: id }, 'discord: interaction failed');
  }
}

async function onSlashCommand(ctx: DiscordContext, interaction: ChatInputCommandInteraction): Promise<void> {
  if (!interaction.inGuild()) {
    await interaction.reply({
      content: 'Use /imagesearch in a server channel.',
      flags: MessageFlags.Ephemeral,
    });
    return;
  }
  // Ack first: the deferred reply is the message the results will replace and the thread will hang on.
  const deferred = await interaction.deferReply({ withResponse: true });
  const replyId = deferred.resource?.message?.id ?? deferred.interaction.responseMessageId ?? undefined;
  const text = cleanDiscordText(interaction.options.getString(QUERY_OPTION) ?? '');
  const attachment = interaction.options.getAttachment(IMAGE_OPTION);
  const limit = uploadLimit(ctx, interaction.attachmentSizeLimit);

  let image: ImageInput | undefined;
  if (attachment) {
    try {
      image = await fetchAttachmentImage(attachment, ctx.imagePolicy);
    } catch (e) {
      const notice = failureNotice(ctx, e, { interactionId: interaction.id });
      await interaction.editReply(textPayload(notice.text));
      return;
    }
  }
  if (!text && !image) {
    await interaction.editReply(
      textPayload('Tell me what to look for, e.g. `/imagesearch query:cats on a sofa`.'),
    );
    return;
  }

  const channel = interaction.channel;
  const guildId = interaction.guildId;
  const edit = async (reply: BotReply) => {
    const rendered = await renderReply(reply, { maxUploadBytes: limit });
    await interaction.editReply(rendered.payload);
  };
  ctx.flow.submit({
    // In a thread the conversation is that thread; elsewhere the deferred reply is the placeholder
    // a new thread hangs on, and its id names the conversation.
    ...(channel?.isThread() ? { conversationId: conversationIdFor(guildId, channel.id) } : {}),
    request: (conversationId) => ({
      platform: 'discord',
      conversationId,
      userId: userIdFor(interaction.user.id),
      requestId: interaction.id,
      followUp: false,
      ...(text ? { text } : {}),
      ...(image ? { image } : {}),
    }),
    port: {
      postPlaceholder: async () => {
        const rootId = replyId ?? (await interaction.fetchReply()).id;
        await startThreadOn(ctx, interaction.channelId, rootId, text || 'photos like yours');
        return conversationIdFor(guildId, rootId);
      },
      deliver: edit,
      fail: edit,
    },
    context: { interactionId: interaction.id },
  });
}

async function onButton(ctx: DiscordContext, interaction: ButtonInteraction): Promise<void> {
  const action = decodeAction(interaction.customId);
  if (!action) return;
  // Ack without a visible "thinking" message; the answer goes into the result thread.
  await interaction.deferUpdate();
  if (!interaction.inGuild()) return;

  const channel = interaction.channel;
  const inThread = channel?.isThread() === true;
  // On the grid that started the thread, the thread id is that message's id; inside the thread it is the channel.
  const rootId = inThread ? interaction.channelId : interaction.message.id;
  const thread = channel?.isThread() ? channel : await threadOf(ctx, interaction.message);
  if (thread) void thread.sendTyping().catch(() => undefined);

  const limit = uploadLimit(ctx, interaction.attachmentSizeLimit);
  const send = async (reply: BotReply) => {
    const rendered = await renderReply(reply, { maxUploadBytes: limit });
    if (thread && !rendered.ephemeral) {
      try {
        await thread.send(rendered.payload);
        return;
      } catch (e) {
        // An archived-and-locked thread, say: fall back to a follow-up on the interaction itself.
        ctx.logger.warn(
          { err: safeError(e), threadId: thread.id },
          'discord: posting in the thread failed; following up',
        );
      }
    }
    await interaction.followUp(followUpOptions(rendered));
  };
  ctx.flow.submit({
    conversationId: conversationIdFor(interaction.guildId, rootId),
    request: (conversationId) => ({
      platform: 'discord',
      conversationId,
      userId: userIdFor(interaction.user.id),
      requestId: interaction.id,
      action,
      followUp: true,
    }),
    port: { deliver: send, fail: send },
    context: { interactionId: interaction.id },
  });
}

function followUpOptions(rendered: RenderedReply): InteractionReplyOptions {
  return rendered.ephemeral ? { ...rendered.payload, flags: MessageFlags.Ephemeral } : rendered.payload;
}

/** Discord tells interactions their real upload limit (boosted guilds allow more); never exceed ours. */
function uploadLimit(ctx: DiscordContext, fromDiscord: number | undefined): number {
  const ours = ctx.settings.maxUploadBytes || DEFAULT_MAX_UPLOAD_BYTES;
  return fromDiscord && fromDiscord > 0 ? Math.min(ours, fromDiscord) : ours;
}

/**
 * What the message and interaction handlers share: the client, the one request flow
 * (adapters/kit/request-flow.ts: dedupe, order, limit, error boundary, timing), resolved settings,
 * and the Discord-side helpers of the outbound port (threads, failure notes).
 */
import {
  ChannelType,
  type Client,
  type Message,
  type ThreadAutoArchiveDuration,
  type ThreadChannel,
} from 'discord.js';
import { asImageSearchError } from '../../src/core/errors.ts';
import type { Logger } from '../../src/core/logger.ts';
import type { BotReply } from '../../src/core/types.ts';
import type { RequestFlow } from '../kit/request-flow.ts';
import type { ImageFetchPolicy } from './image-input.ts';
import { safeError } from './log-safe.ts';
import { threadName } from './text.ts';

/** Settings after defaults are applied. */
export interface ResolvedDiscordSettings {
  messageContent: boolean;
  maxUploadBytes: number;
  threadArchiveMinutes: ThreadAutoArchiveDuration;
}

/** Shared by the message and interaction handlers of one client. */
export interface DiscordContext {
  client: Client;
  /** The one request flow: each delivery claimed once, conversations answered in order. */
  flow: RequestFlow;
  logger: Logger;
  settings: ResolvedDiscordSettings;
  imagePolicy: ImageFetchPolicy;
}

/** True the first time this delivery (`message:ID`, `interaction:ID`) is seen. */
export function firstDelivery(ctx: DiscordContext, key: string): Promise<boolean> {
  return ctx.flow.firstDelivery(key);
}

/** `discord:<guild>:<thread>`; the thread id equals its starter message's id, so a grid message id works too. */
export function conversationIdFor(guildId: string, rootId: string): string {
  return `discord:${guildId}:${rootId}`;
}

/** `discord:<user id>`, for ownership and rate limits in the core. */
export function userIdFor(discordUserId: string): string {
  return `discord:${discordUserId}`;
}

/** A notice for something that failed before the core was asked (image download, bad input). */
export function failureNotice(ctx: DiscordContext, e: unknown, context: Record<string, unknown>): BotReply {
  const err = asImageSearchError(e);
  const level = err.code === 'internal' ? 'error' : 'warn';
  ctx.logger[level]({ err: safeError(e), code: err.code, ...context }, 'discord: request refused');
  return { kind: 'notice', level: 'warn', text: err.userMessage };
}

/**
 * Opens a public thread on `messageId` in a text or announcement channel. Returns undefined where
 * threads can't be started (other channel types, missing permission): the reply still stands and
 * its buttons keep working, because the conversation id is the message id either way.
 */
export async function startThreadOn(
  ctx: DiscordContext,
  channelId: string,
  messageId: string,
  query: string | undefined,
): Promise<ThreadChannel | undefined> {
  try {
    const channel = await ctx.client.channels.fetch(channelId);
    if (
      !channel ||
      (channel.type !== ChannelType.GuildText && channel.type !== ChannelType.GuildAnnouncement)
    ) {
      return undefined;
    }
    return await channel.threads.create({
      startMessage: messageId,
      name: threadName(query),
      autoArchiveDuration: ctx.settings.threadArchiveMinutes,
    });
  } catch (e) {
    ctx.logger.warn(
      { err: safeError(e), channelId, messageId },
      'discord: could not start a thread; replying without one',
    );
    return undefined;
  }
}

/** The thread started on `message`, if any (cache first, then REST). */
export async function threadOf(ctx: DiscordContext, message: Message): Promise<ThreadChannel | undefined> {
  if (message.thread) return message.thread;
  const channel = await ctx.client.channels.fetch(message.id).catch(() => null);
  return channel?.isThread() ? channel : undefined;
}

/**
 * What the message and interaction handlers share: the client, the core handler, resolved
 * settings, the de-duplication memory, and the one place that turns failures into a kind answer.
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
import type { BotReply, ConversationHandler, Dedupe, SearchRequest } from '../../src/core/types.ts';
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
  handler: ConversationHandler;
  logger: Logger;
  settings: ResolvedDiscordSettings;
  /** The engine's idempotency keys: a replayed delivery is dropped before anything is posted. */
  dedupe: Dedupe;
  /** How long delivery ids are remembered (Discord replays within minutes; an interaction token lives 15). */
  dedupeTtlMs: number;
  imagePolicy: ImageFetchPolicy;
  /** Metrics hook: how long delivering a message with an attachment took. */
  observeUpload?: ((seconds: number, ok: boolean) => void) | undefined;
}

/** True the first time this delivery (`message:ID`, `interaction:ID`) is seen. */
export function firstDelivery(ctx: DiscordContext, key: string): Promise<boolean> {
  return ctx.dedupe.claim(`discord:${key}`, ctx.dedupeTtlMs);
}

/** Sends a rendered reply, timing it for the upload metric when it carries a file. */
export async function deliver<T>(ctx: DiscordContext, hasFile: boolean, send: () => Promise<T>): Promise<T> {
  const started = performance.now();
  let ok = false;
  try {
    const result = await send();
    ok = true;
    return result;
  } finally {
    if (hasFile) ctx.observeUpload?.((performance.now() - started) / 1000, ok);
  }
}

/** `discord:<guild>:<thread>`; the thread id equals its starter message's id, so a grid message id works too. */
export function conversationIdFor(guildId: string, rootId: string): string {
  return `discord:${guildId}:${rootId}`;
}

/** `discord:<user id>`, for ownership and rate limits in the core. */
export function userIdFor(discordUserId: string): string {
  return `discord:${discordUserId}`;
}

/**
 * Asks the core, never throws: a failure is logged with its context (never the token) and becomes
 * a short notice the user sees in the thread.
 */
export async function answer(ctx: DiscordContext, request: SearchRequest): Promise<BotReply> {
  try {
    return await ctx.handler.handle(request);
  } catch (e) {
    const err = asImageSearchError(e);
    ctx.logger.error(
      {
        err: safeError(e),
        code: err.code,
        conversationId: request.conversationId,
        requestId: request.requestId,
      },
      'discord: search failed',
    );
    return { kind: 'notice', level: 'error', text: err.userMessage };
  }
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

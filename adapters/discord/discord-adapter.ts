/**
 * The Discord adapter: one discord.js client (one shard, or the shards the ShardingManager gave
 * this process) turning mentions, `/imagesearch` and button clicks into core requests.
 */
import { once } from 'node:events';
import {
  Client,
  type ClientOptions,
  Events,
  GatewayIntentBits,
  Options,
  ThreadAutoArchiveDuration,
} from 'discord.js';
import type { Adapter, AdapterDeps } from '../../src/core/adapter.ts';
import { ImageSearchError } from '../../src/core/errors.ts';
import { RequestFlow } from '../kit/request-flow.ts';
import { BASE_INTENTS } from './commands.ts';
import type { DiscordContext } from './context.ts';
import { attachmentOrigins } from './image-input.ts';
import { onInteraction } from './interactions.ts';
import { safeError } from './log-safe.ts';
import { onMessage } from './messages.ts';
import { DEFAULT_MAX_UPLOAD_BYTES } from './render.ts';

/** Discord settings; each names the environment variable that sets it. */
export interface DiscordAdapterConfig {
  /** DISCORD_TOKEN: the bot token. Never logged. */
  token: string;
  /** DISCORD_APPLICATION_ID: only needed to register commands; the client learns it from READY. */
  applicationId?: string | undefined;
  /** DISCORD_API_URL: REST base (`http://127.0.0.1:4020/api` for a local peer); the gateway URL comes from its `GET /gateway/bot`. */
  apiUrl?: string | undefined;
  /** DISCORD_MESSAGE_CONTENT: the privileged Message Content intent is enabled for this bot, so plain thread messages refine. */
  messageContent: boolean;
  /** Largest upload in bytes (default 10 MiB, Discord's limit for unboosted guilds). */
  maxUploadBytes?: number;
  /** Largest image a user may search with, in bytes (default 8 MiB). */
  maxImageBytes?: number;
  /** Deadline for downloading a user's image (default 10 s). */
  imageTimeoutMs?: number;
  /** How long result threads stay open without activity (default one day). */
  threadArchiveMinutes?: ThreadAutoArchiveDuration;
}

/** The adapter's settings from the validated app config, or undefined when DISCORD_TOKEN is not set. */
export function discordConfigFrom(config: {
  discordToken: string | undefined;
  discordApplicationId: string | undefined;
  discordApiUrl: string | undefined;
  discordMessageContent: boolean;
}): DiscordAdapterConfig | undefined {
  if (!config.discordToken) return undefined;
  return {
    token: config.discordToken,
    applicationId: config.discordApplicationId,
    apiUrl: config.discordApiUrl,
    messageContent: config.discordMessageContent,
  };
}

/** Factory input: the shared adapter dependencies plus Discord settings. */
export interface DiscordAdapterDeps extends AdapterDeps {
  config: DiscordAdapterConfig;
  /** Extra discord.js client options (tests shorten timeouts); intents and REST base are always ours. */
  clientOptions?: Partial<ClientOptions>;
  /**
   * Origins besides Discord's CDN that attachments may be downloaded from: a local test peer's,
   * set by its harness. DISCORD_API_URL never adds one by itself.
   */
  attachmentOrigins?: readonly string[];
}

/** The adapter, with its client exposed for diagnostics and tests. */
export interface DiscordAdapter extends Adapter {
  readonly client: Client;
}

const STOP_GRACE_MS = 15_000;

/** Creates the Discord adapter. Nothing connects until {@link Adapter.start}. */
export function createDiscordAdapter(deps: DiscordAdapterDeps): DiscordAdapter {
  const { config, handler } = deps;
  const logger = deps.logger.child({ adapter: 'discord' });
  const intents: GatewayIntentBits[] = [...BASE_INTENTS];
  if (config.messageContent) intents.push(GatewayIntentBits.MessageContent);

  // REST keeps discord.js's defaults (queueing per bucket, waiting out 429s, retries): rate limits are respected.
  const client = new Client({
    // Old messages are never looked up again, so none are cached (memory on big servers). That also
    // removes discord.js's incidental duplicate filter: replays are caught by our own dedupe.
    makeCache: Options.cacheWithLimits({ ...Options.DefaultMakeCacheSettings, MessageManager: 0 }),
    ...deps.clientOptions,
    intents,
    allowedMentions: { parse: [], repliedUser: false },
    rest: { ...deps.clientOptions?.rest, ...(config.apiUrl ? { api: config.apiUrl } : {}) },
  });

  const flow = new RequestFlow({
    platform: 'discord',
    handler,
    logger,
    dedupe: deps.dedupe,
    maxConcurrent: deps.maxConcurrent,
    observeUpload: deps.observeUpload,
    // REST errors can carry request details: only what safeError keeps is logged.
    loggable: safeError,
  });
  const ctx: DiscordContext = {
    client,
    flow,
    logger,
    settings: {
      messageContent: config.messageContent,
      maxUploadBytes: config.maxUploadBytes ?? DEFAULT_MAX_UPLOAD_BYTES,
      threadArchiveMinutes: config.threadArchiveMinutes ?? ThreadAutoArchiveDuration.OneDay,
    },
    imagePolicy: {
      allowedOrigins: attachmentOrigins(deps.attachmentOrigins),
      maxBytes: config.maxImageBytes ?? 8 * 1024 * 1024,
      timeoutMs: config.imageTimeoutMs ?? 10_000,
    },
  };

  let accepting = false;
  const track = (work: Promise<void>): void => {
    void flow.track(
      work.catch((e: unknown) => logger.error({ err: safeError(e) }, 'discord: unhandled failure')),
    );
  };

  client.on(Events.MessageCreate, (message) => {
    if (accepting) track(onMessage(ctx, message));
  });
  client.on(Events.InteractionCreate, (interaction) => {
    if (accepting) track(onInteraction(ctx, interaction));
  });
  client.on(Events.Warn, (message) => logger.warn({ detail: message }, 'discord: client warning'));
  client.on(Events.Error, (err) => logger.error({ err: safeError(err) }, 'discord: client error'));
  client.on(Events.ShardError, (err, shardId) =>
    logger.warn({ err: safeError(err), shardId }, 'discord: shard connection error'),
  );
  client.on(Events.ShardReconnecting, (shardId) => logger.info({ shardId }, 'discord: shard reconnecting'));
  client.on(Events.ShardResume, (shardId, replayed) =>
    logger.info({ shardId, replayed }, 'discord: shard resumed'),
  );
  client.on(Events.ShardDisconnect, (event, shardId) =>
    logger.warn({ code: event.code, shardId }, 'discord: shard disconnected for good'),
  );

  return {
    name: 'discord',
    client,
    async start() {
      accepting = true;
      flow.resume();
      const ready = once(client, Events.ClientReady);
      try {
        await client.login(config.token);
        await ready;
      } catch (e) {
        accepting = false;
        await client.destroy().catch(() => undefined);
        throw explainLoginError(e);
      }
      logger.info(
        {
          user: client.user?.tag,
          shards: [...client.ws.shards.keys()],
          shardCount: client.options.shardCount,
          messageContent: config.messageContent,
        },
        config.messageContent
          ? 'discord: connected; plain messages in result threads refine'
          : 'discord: connected; Message Content intent off, so mentions and buttons refine',
      );
    },
    async stop() {
      accepting = false;
      await flow.drain(STOP_GRACE_MS);
      await client.destroy();
    },
  };
}

/** Login failures users can fix get a message naming the setting (never its value). */
function explainLoginError(e: unknown): Error {
  const message = e instanceof Error ? e.message : String(e);
  if (/disallowed intent/i.test(message)) {
    return new ImageSearchError(
      'config_invalid',
      'Discord refused the Message Content intent: enable it for the bot in the Developer Portal, or unset DISCORD_MESSAGE_CONTENT.',
      { cause: e },
    );
  }
  if (/invalid token|TokenInvalid|401/i.test(message)) {
    return new ImageSearchError('config_invalid', 'Discord rejected DISCORD_TOKEN: check the bot token.', {
      cause: e,
    });
  }
  return e instanceof Error ? e : new Error(message);
}

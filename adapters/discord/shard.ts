/**
 * One shard process under discord.js's ShardingManager (see ./sharding.ts). The manager forks an
 * entry file with SHARDS / SHARD_COUNT / DISCORD_TOKEN in the environment; discord.js's Client reads
 * them, so this process connects only its shards and tells the manager when it is ready.
 *
 * Each shard process needs the whole search engine: the entry file passes {@link runShard} the
 * function that builds it (adapters/app/discord-shard.ts builds the real stack; a test harness
 * passes a small handler of its own).
 */
import type { AdapterDeps } from '../../src/core/adapter.ts';
import { ImageSearchError } from '../../src/core/errors.ts';
import { type Config, loadConfig } from '../../src/util/config.ts';
import { createLogger, type Logger } from '../../src/util/logger.ts';
import { createDiscordAdapter, type DiscordAdapterDeps, discordConfigFrom } from './discord-adapter.ts';
import { safeError } from './log-safe.ts';

/** What a shard's adapter needs from the engine side. */
export type ShardDeps = Pick<AdapterDeps, 'handler' | 'dedupe'>;

/** Options a harness may set for the shard's adapter (e.g. its own attachment origins). */
export type ShardAdapterOptions = Pick<DiscordAdapterDeps, 'attachmentOrigins' | 'clientOptions'>;

/**
 * Runs this process's shard(s) until SIGTERM/SIGINT or the manager goes away. Never rejects: a
 * failed start is one line on stderr and exit code 1, which the manager reports.
 */
export async function runShard(
  build: (config: Config, logger: Logger) => Promise<ShardDeps>,
  adapterOptions: ShardAdapterOptions = {},
  env: NodeJS.ProcessEnv = process.env,
): Promise<void> {
  try {
    await start(build, adapterOptions, env);
  } catch (e) {
    const message =
      e instanceof ImageSearchError ? e.userMessage : e instanceof Error ? e.message : String(e);
    process.stderr.write(`discord shard failed to start: ${message}\n`);
    process.exit(1);
  }
}

async function start(
  build: (config: Config, logger: Logger) => Promise<ShardDeps>,
  adapterOptions: ShardAdapterOptions,
  env: NodeJS.ProcessEnv,
): Promise<void> {
  const config = loadConfig(env);
  const logger = createLogger({ level: config.logLevel }).child({
    shards: env.SHARDS,
    shardCount: env.SHARD_COUNT,
  });
  const discordConfig = discordConfigFrom(config);
  if (!discordConfig)
    throw new ImageSearchError('config_invalid', 'DISCORD_TOKEN is not set for the Discord shard.');
  const deps = await build(config, logger);
  const adapter = createDiscordAdapter({
    ...adapterOptions,
    ...deps,
    maxConcurrent: config.maxConcurrentSearches,
    config: discordConfig,
    logger,
  });
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'discord shard: stopping');
    adapter.stop().then(
      () => process.exit(0),
      (e: unknown) => {
        logger.error({ err: safeError(e) }, 'discord shard: stop failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
  // The manager going away (it was killed) must not leave an orphaned shard behind.
  process.once('disconnect', () => stop('disconnect'));
  await adapter.start();
}

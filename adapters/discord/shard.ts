/**
 * One shard process under discord.js's ShardingManager (see ./sharding.ts). The manager forks this
 * file with SHARDS / SHARD_COUNT / DISCORD_TOKEN in the environment; discord.js's Client reads them,
 * so this process connects only its shards and tells the manager when it is ready.
 *
 * Each shard process needs the whole search engine, so it builds a ConversationHandler from the
 * module named by IMAGESEARCH_DISCORD_HANDLER (default `adapters/app/handler.ts`), which must export
 * `createConversationHandler(config, logger)`.
 */
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ImageSearchError } from '../../src/core/errors.ts';
import type { ConversationHandler } from '../../src/core/types.ts';
import { type Config, loadConfig } from '../../src/util/config.ts';
import { createLogger, type Logger } from '../../src/util/logger.ts';
import { createDiscordAdapter, discordConfigFrom } from './discord-adapter.ts';
import { safeError } from './log-safe.ts';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The contract a handler module fulfils for shard processes. */
export interface ShardHandlerModule {
  createConversationHandler(config: Config, logger: Logger): Promise<ConversationHandler>;
}

/** Runs this process's shard(s) until SIGTERM/SIGINT. */
export async function runShard(env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const config = loadConfig(env);
  const logger = createLogger({ level: config.logLevel }).child({
    shards: env.SHARDS,
    shardCount: env.SHARD_COUNT,
  });
  const modulePath = path.resolve(REPO_ROOT, env.IMAGESEARCH_DISCORD_HANDLER ?? 'adapters/app/handler.ts');
  const mod = (await import(pathToFileURL(modulePath).href)) as Partial<ShardHandlerModule>;
  if (typeof mod.createConversationHandler !== 'function') {
    throw new ImageSearchError(
      'config_invalid',
      `${path.relative(REPO_ROOT, modulePath)} does not export createConversationHandler (set IMAGESEARCH_DISCORD_HANDLER).`,
    );
  }
  const discordConfig = discordConfigFrom(config);
  if (!discordConfig)
    throw new ImageSearchError('config_invalid', 'DISCORD_TOKEN is not set for the Discord shard.');
  const handler = await mod.createConversationHandler(config, logger);
  const adapter = createDiscordAdapter({
    config: discordConfig,
    handler,
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

const entry = process.argv[1];
if (entry && import.meta.url === pathToFileURL(path.resolve(entry)).href) {
  runShard().catch((e: unknown) => {
    const message =
      e instanceof ImageSearchError ? e.userMessage : e instanceof Error ? e.message : String(e);
    process.stderr.write(`discord shard failed to start: ${message}\n`);
    process.exit(1);
  });
}

/**
 * Running the Discord adapter sharded: discord.js's ShardingManager forks one process per shard
 * from an entry file that calls ./shard.ts's `runShard`. The manager process itself loads no
 * model; each shard process runs the full engine.
 */
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { REST, type RESTGetAPIGatewayBotResult, Routes, ShardingManager } from 'discord.js';
import type { Logger } from '../../src/util/logger.ts';

/** Options for {@link startDiscordSharding}. */
export interface DiscordShardingOptions {
  /** The entry each shard process runs (adapters/app/discord-shard.ts; a test harness has its own). */
  shardFile: string;
  /** DISCORD_TOKEN. */
  token: string;
  /** DISCORD_API_URL, also used to ask for the recommended shard count. */
  apiUrl?: string | undefined;
  /** A shard count, or 'auto' for Discord's recommendation (GET /gateway/bot). */
  shards: number | 'auto';
  logger: Logger;
  /**
   * Pause between shard starts. Discord allows one identify per 5 s per rate-limit bucket
   * (max_concurrency), and each shard process has its own throttle, so the manager spaces them.
   */
  spawnDelayMs?: number;
  /** How long one shard may take to become ready. */
  spawnTimeoutMs?: number;
}

/** A running sharded adapter. */
export interface DiscordSharding {
  readonly manager: ShardingManager;
  readonly totalShards: number;
  stop(): Promise<void>;
}

/** Spawns all shards and resolves once each reports ready. */
export async function startDiscordSharding(opts: DiscordShardingOptions): Promise<DiscordSharding> {
  const totalShards = opts.shards === 'auto' ? await recommendedShards(opts.token, opts.apiUrl) : opts.shards;
  // Shards run the TypeScript sources directly, like the CLI: through tsx's loader.
  const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
  const manager = new ShardingManager(opts.shardFile, {
    token: opts.token,
    totalShards,
    mode: 'process',
    respawn: true,
    execArgv: ['--import', tsx],
  });
  const log = opts.logger.child({ adapter: 'discord-sharding' });
  manager.on('shardCreate', (shard) => {
    log.info({ shardId: shard.id, totalShards }, 'discord: shard process started');
    shard.on('death', () => log.warn({ shardId: shard.id }, 'discord: shard process exited'));
  });
  await manager.spawn({
    amount: totalShards,
    delay: opts.spawnDelayMs ?? 5500,
    timeout: opts.spawnTimeoutMs ?? 120_000,
  });
  log.info({ totalShards }, 'discord: all shards ready');
  return {
    manager,
    totalShards,
    async stop() {
      manager.respawn = false;
      await Promise.all(
        manager.shards.map(async (shard) => {
          const exited = shard.process
            ? new Promise((r) => shard.process?.once('exit', r))
            : Promise.resolve();
          shard.kill();
          await exited;
        }),
      );
    },
  };
}

/** Discord's recommended shard count for this bot, asked from DISCORD_API_URL when set. */
export async function recommendedShards(token: string, apiUrl?: string): Promise<number> {
  const rest = new REST(apiUrl ? { api: apiUrl } : {}).setToken(token);
  const info = (await rest.get(Routes.gatewayBot())) as RESTGetAPIGatewayBotResult;
  return Math.max(1, info.shards);
}

/**
 * Runs the Discord adapter sharded, one process per shard, under discord.js's ShardingManager.
 *
 *   node bin/run-script.js scripts/discord-shards.ts --shards auto     # Discord's recommendation
 *   node bin/run-script.js scripts/discord-shards.ts --shards 4
 *
 * Reads DISCORD_TOKEN (and DISCORD_API_URL, DISCORD_MESSAGE_CONTENT, …) from the environment / `.env`.
 * Each shard process builds the engine from IMAGESEARCH_DISCORD_HANDLER (default src/app/handler.ts).
 */
import { parseArgs } from 'node:util';
import { startDiscordSharding } from '../adapters/discord/sharding.ts';
import { loadConfig } from '../src/util/config.ts';
import { createLogger } from '../src/util/logger.ts';

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { shards: { type: 'string', default: 'auto' } } });
  try {
    await import('dotenv/config');
  } catch {
    // .env support is a convenience; the environment alone is enough.
  }
  const config = loadConfig();
  const logger = createLogger({ level: config.logLevel });
  if (!config.discordToken) {
    process.stderr.write('Set DISCORD_TOKEN (see adapters/discord/README.md).\n');
    process.exitCode = 2;
    return;
  }
  const shards = values.shards === 'auto' ? 'auto' : Number(values.shards);
  if (shards !== 'auto' && (!Number.isInteger(shards) || shards < 1)) {
    process.stderr.write('--shards takes a positive number or "auto".\n');
    process.exitCode = 2;
    return;
  }
  const sharding = await startDiscordSharding({
    token: config.discordToken,
    apiUrl: config.discordApiUrl,
    shards,
    logger,
  });
  const stop = () => void sharding.stop().finally(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((e: unknown) => {
  process.stderr.write(`discord sharding failed: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 1;
});

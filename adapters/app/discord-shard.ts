/**
 * The entry of one Discord shard process (`serve --discord-shards`): discord.js's ShardingManager
 * forks this file; it builds its own stack from the same configuration and runs the shard(s)
 * assigned to it (adapters/discord/shard.ts).
 */
import { runShard } from '../discord/shard.ts';
import { createStack } from './stack.ts';

await runShard(async (config, logger) => {
  const stack = await createStack(config, logger);
  return { handler: stack.handler, dedupe: stack.dedupe };
});

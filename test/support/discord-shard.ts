/**
 * The shard entry the sharding test hands discord.js's ShardingManager (instead of the real one,
 * adapters/app/discord-shard.ts): each shard process answers with the small real handler of
 * ./discord-handler.ts rather than loading a model.
 */
import { runShard } from '../../adapters/discord/shard.ts';
import { RecordingHandler } from './discord-handler.ts';

await runShard(async () => ({ handler: new RecordingHandler() }));

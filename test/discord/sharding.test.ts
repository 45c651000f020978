/**
 * The adapter under discord.js's ShardingManager: two real shard processes (adapters/discord/shard.ts,
 * entered through test/support/discord-shard.ts), each identifying with its own shard id and
 * answering for the guild it owns.
 */
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DiscordSharding, startDiscordSharding } from '../../adapters/discord/sharding.ts';
import { silentLogger } from '../../src/util/logger.ts';
import { buildUserMessage, snowflakeOnShard } from '../peers/discord-payloads.ts';
import { DiscordPeer } from '../peers/discord-peer.ts';
import { REPO_ROOT } from '../support/fixtures.ts';

describe('Discord sharded', () => {
  let peer: DiscordPeer;
  let sharding: DiscordSharding | undefined;
  const saved = { ...process.env };
  beforeAll(async () => {
    peer = await DiscordPeer.start({
      guildIds: [snowflakeOnShard(0, 2), snowflakeOnShard(1, 2)],
      recommendedShards: 2,
    });
    Object.assign(process.env, {
      DISCORD_TOKEN: peer.token,
      DISCORD_API_URL: peer.apiUrl,
      LOG_LEVEL: 'silent',
    });
    sharding = await startDiscordSharding({
      shardFile: path.join(REPO_ROOT, 'test', 'support', 'discord-shard.ts'),
      token: peer.token,
      apiUrl: peer.apiUrl,
      shards: 'auto',
      logger: silentLogger(),
      spawnDelayMs: 0,
      spawnTimeoutMs: 60_000,
    });
  }, 90_000);
  afterAll(async () => {
    await sharding?.stop();
    await peer?.close();
    process.env = saved;
  });

  it('runs one process per shard, each answering for its own guilds', async () => {
    expect(sharding!.totalShards).toBe(2);
    expect(peer.gateway.identifies.map((i) => i.shard).sort()).toEqual([
      [0, 2],
      [1, 2],
    ]);
    for (const guildId of peer.guildIds) {
      const channelId = peer.channelOf.get(guildId)!;
      const msg = buildUserMessage({ guildId, channelId, content: 'foxes in snow', mention: peer.botUser });
      peer.gateway.dispatch('MESSAGE_CREATE', msg, guildId);
      const edit = await peer.waitForCall(
        (c) => c.method === 'PATCH' && c.multipart && c.path.startsWith(`/channels/${channelId}/`),
      );
      expect((await sharp(edit.files[0]!.bytes).metadata()).format).toBe('jpeg');
    }
  });
});

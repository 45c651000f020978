/**
 * Gateway and REST payloads for the local Discord peer, built from the real examples in
 * test/fixtures/discord/ with ids, tokens and names adjusted for the test at hand.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type {
  APIAttachment,
  APIChatInputApplicationCommandInteraction,
  APIGuild,
  APIMessage,
  APIMessageComponentButtonInteraction,
  APIUser,
} from 'discord.js';
import { FIXTURES_DIR } from '../support/fixtures.ts';

const DISCORD_EPOCH = 1420070400000n;
let counter = 0n;

/** A fresh, increasing snowflake (timestamp bits are real, so discord.js dates make sense). */
export function snowflake(): string {
  counter = (counter + 1n) & 0xfffn;
  return String(((BigInt(Date.now()) - DISCORD_EPOCH) << 22n) | (1n << 17n) | counter);
}

/** A snowflake whose guild would live on `shard` of `shardCount` (for sharding tests). */
export function snowflakeOnShard(shard: number, shardCount: number): string {
  for (;;) {
    const id = snowflake();
    if (Number((BigInt(id) >> 22n) % BigInt(shardCount)) === shard) return id;
    // Move the timestamp part: ids minted in the same millisecond share a shard.
    counter = (counter + 1n) & 0xfffn;
    const bumped = String(BigInt(id) + (BigInt(1 + Math.floor(Math.random() * 7)) << 22n));
    if (Number((BigInt(bumped) >> 22n) % BigInt(shardCount)) === shard) return bumped;
  }
}

/** One JSON fixture from test/fixtures/discord/. */
export function discordFixture<T>(name: string): T {
  return JSON.parse(readFileSync(path.join(FIXTURES_DIR, 'discord', name), 'utf8')) as T;
}

export function interactionToken(): string {
  return `tok_${randomBytes(24).toString('base64url')}`;
}

/** A guild with one text channel, the bot as a member, and an @everyone role. */
export function buildGuild(
  guildId: string,
  channelIds: string[],
  botUser: APIUser,
  threads: unknown[] = [],
): APIGuild {
  const now = new Date().toISOString();
  return {
    id: guildId,
    name: `Test guild ${guildId.slice(-4)}`,
    icon: null,
    splash: null,
    discovery_splash: null,
    owner_id: '53908232506183680',
    afk_channel_id: null,
    afk_timeout: 300,
    verification_level: 0,
    default_message_notifications: 0,
    explicit_content_filter: 0,
    roles: [
      {
        id: guildId,
        name: '@everyone',
        color: 0,
        colors: { primary_color: 0, secondary_color: null, tertiary_color: null },
        hoist: false,
        icon: null,
        unicode_emoji: null,
        position: 0,
        permissions: '2248473465835073',
        managed: false,
        mentionable: false,
        flags: 0,
      },
    ],
    emojis: [],
    features: [],
    mfa_level: 0,
    application_id: null,
    system_channel_id: null,
    system_channel_flags: 0,
    rules_channel_id: null,
    vanity_url_code: null,
    description: null,
    banner: null,
    premium_tier: 0,
    preferred_locale: 'en-US' as APIGuild['preferred_locale'],
    public_updates_channel_id: null,
    nsfw_level: 0,
    stickers: [],
    premium_progress_bar_enabled: false,
    hub_type: null,
    safety_alerts_channel_id: null,
    incidents_data: null,
    region: 'us-west',
    ...{
      // GUILD_CREATE-only fields (discord.js caches channels, threads and members from them).
      joined_at: now,
      large: false,
      unavailable: false,
      member_count: 2,
      members: [{ user: botUser, roles: [], joined_at: now, deaf: false, mute: false, flags: 0 }],
      channels: channelIds.map((id, position) => ({
        id,
        type: 0,
        guild_id: guildId,
        name: `general-${position}`,
        position,
        permission_overwrites: [],
        parent_id: null,
        nsfw: false,
        topic: null,
        last_message_id: null,
        rate_limit_per_user: 0,
      })),
      threads,
      presences: [],
      voice_states: [],
      stage_instances: [],
      guild_scheduled_events: [],
    },
  } as unknown as APIGuild;
}

/** A user (from message_example.json's author). */
export function humanUser(overrides: Partial<APIUser> = {}): APIUser {
  const base = discordFixture<APIMessage>('message_example.json').author;
  return { ...base, global_name: null, ...overrides };
}

export interface UserMessageOptions {
  guildId: string;
  channelId: string;
  content: string;
  /** Mention this user at the start (`<@id> content`) and list them in `mentions`. */
  mention?: APIUser;
  author?: APIUser;
  attachments?: APIAttachment[];
  id?: string;
}

/** A MESSAGE_CREATE payload built from message_example.json. */
export function buildUserMessage(opts: UserMessageOptions): APIMessage & { guild_id: string } {
  const { reactions: _reactions, ...example } = discordFixture<APIMessage>('message_example.json');
  const author = opts.author ?? humanUser();
  return {
    ...example,
    id: opts.id ?? snowflake(),
    channel_id: opts.channelId,
    guild_id: opts.guildId,
    author,
    content: opts.mention ? `<@${opts.mention.id}> ${opts.content}` : opts.content,
    mentions: opts.mention ? [opts.mention] : [],
    attachments: opts.attachments ?? [],
    timestamp: new Date().toISOString(),
    ...{ member: { roles: [], joined_at: '2017-03-13T19:19:14.040000+00:00', deaf: false, mute: false } },
  };
}

export interface SlashOptions {
  applicationId: string;
  guildId: string;
  channelId: string;
  query: string;
  channelType?: number;
  id?: string;
  token?: string;
}

/** An INTERACTION_CREATE (type 2) built from interaction_application_command_chat_input.json. */
export function buildSlashInteraction(opts: SlashOptions): APIChatInputApplicationCommandInteraction {
  const example = discordFixture<APIChatInputApplicationCommandInteraction>(
    'interaction_application_command_chat_input.json',
  );
  return {
    ...example,
    id: opts.id ?? snowflake(),
    token: opts.token ?? interactionToken(),
    application_id: opts.applicationId,
    guild_id: opts.guildId,
    channel_id: opts.channelId,
    // Current Discord sends the partial channel as well as channel_id (the fixture predates it).
    channel: { id: opts.channelId, type: opts.channelType ?? 0 },
    version: 1,
    entitlements: [],
    authorizing_integration_owners: { 0: opts.guildId },
    context: 0,
    attachment_size_limit: 10 * 1024 * 1024,
    data: {
      ...example.data,
      id: snowflake(),
      name: 'imagesearch',
      options: [{ type: 3, name: 'query', value: opts.query }],
    },
  } as APIChatInputApplicationCommandInteraction;
}

export interface ButtonOptions {
  applicationId: string;
  guildId: string;
  channelId: string;
  customId: string;
  channelType?: number;
  /** The bot message carrying the button. */
  message: APIMessage;
  id?: string;
  token?: string;
}

/** An INTERACTION_CREATE (type 3) for a button, with the member from the slash-command fixture. */
export function buildButtonInteraction(opts: ButtonOptions): APIMessageComponentButtonInteraction {
  const example = discordFixture<APIChatInputApplicationCommandInteraction>(
    'interaction_application_command_chat_input.json',
  );
  return {
    ...example,
    type: 3,
    id: opts.id ?? snowflake(),
    token: opts.token ?? interactionToken(),
    application_id: opts.applicationId,
    guild_id: opts.guildId,
    channel_id: opts.channelId,
    // Current Discord sends the partial channel as well as channel_id (the fixture predates it).
    channel: { id: opts.channelId, type: opts.channelType ?? 0 },
    version: 1,
    entitlements: [],
    authorizing_integration_owners: { 0: opts.guildId },
    context: 0,
    attachment_size_limit: 10 * 1024 * 1024,
    message: opts.message,
    data: { custom_id: opts.customId, component_type: 2 },
  } as APIMessageComponentButtonInteraction;
}

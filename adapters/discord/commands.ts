/**
 * The `/imagesearch` slash command: its definition and its registration (guild or global) through
 * discord.js's REST client, which honours rate limits and `DISCORD_API_URL`.
 */
import {
  ApplicationCommandOptionType,
  ApplicationCommandType,
  GatewayIntentBits,
  InteractionContextType,
  PermissionFlagsBits,
  REST,
  type RESTPostAPIChatInputApplicationCommandsJSONBody,
  Routes,
} from 'discord.js';

export const COMMAND_NAME = 'imagesearch';

/**
 * What the bot needs in a channel: see it, read its history, post, post in threads, start public
 * threads on its answers, attach the grid. The integer the invite URL carries (README, ./README.md).
 */
export const BOT_PERMISSIONS =
  PermissionFlagsBits.ViewChannel |
  PermissionFlagsBits.ReadMessageHistory |
  PermissionFlagsBits.SendMessages |
  PermissionFlagsBits.SendMessagesInThreads |
  PermissionFlagsBits.CreatePublicThreads |
  PermissionFlagsBits.AttachFiles;

/** Gateway intents the adapter identifies with; Message Content is added only when DISCORD_MESSAGE_CONTENT=1. */
export const BASE_INTENTS = [GatewayIntentBits.Guilds, GatewayIntentBits.GuildMessages] as const;

/** The URL that adds the bot to a server, with the `bot` and `applications.commands` scopes. */
export function inviteUrl(applicationId: string): string {
  return `https://discord.com/oauth2/authorize?client_id=${applicationId}&scope=bot+applications.commands&permissions=${BOT_PERMISSIONS}`;
}
export const QUERY_OPTION = 'query';
export const IMAGE_OPTION = 'image';

/** `/imagesearch query:<text> [image:<file>]`, usable in server channels (threads need a guild). */
export const IMAGESEARCH_COMMAND = {
  name: COMMAND_NAME,
  type: ApplicationCommandType.ChatInput,
  description: 'Find photos by meaning',
  contexts: [InteractionContextType.Guild],
  options: [
    {
      type: ApplicationCommandOptionType.String,
      name: QUERY_OPTION,
      description: 'What to look for, e.g. "cats on a sofa"',
      required: true,
      max_length: 300,
    },
    {
      type: ApplicationCommandOptionType.Attachment,
      name: IMAGE_OPTION,
      description: 'Optional: find photos like this image',
      required: false,
    },
  ],
} as const satisfies RESTPostAPIChatInputApplicationCommandsJSONBody;

/** Where and how to register. */
export interface RegisterCommandsOptions {
  /** Bot token (DISCORD_TOKEN). */
  token: string;
  /** Application id (DISCORD_APPLICATION_ID). */
  applicationId: string;
  /** REST base (DISCORD_API_URL); Discord's own when absent. */
  apiUrl?: string | undefined;
  /** Register in one guild (instant, for development) instead of globally (may take up to an hour to show). */
  guildId?: string | undefined;
}

/** What was registered. */
export interface RegisterCommandsResult {
  scope: 'guild' | 'global';
  route: string;
  names: string[];
}

/** Overwrites the application's commands (bulk PUT, so re-running is idempotent). */
export async function registerCommands(opts: RegisterCommandsOptions): Promise<RegisterCommandsResult> {
  const rest = new REST(opts.apiUrl ? { api: opts.apiUrl } : {}).setToken(opts.token);
  const route = opts.guildId
    ? Routes.applicationGuildCommands(opts.applicationId, opts.guildId)
    : Routes.applicationCommands(opts.applicationId);
  const registered = (await rest.put(route, { body: [IMAGESEARCH_COMMAND] })) as Array<{ name: string }>;
  return { scope: opts.guildId ? 'guild' : 'global', route, names: registered.map((c) => c.name) };
}

/**
 * The `/imagesearch` slash command: its definition and its registration (guild or global) through
 * discord.js's REST client, which honours rate limits and `DISCORD_API_URL`.
 */
import {
  ApplicationCommandOptionType,
  ApplicationCommandType,
  InteractionContextType,
  REST,
  type RESTPostAPIChatInputApplicationCommandsJSONBody,
  Routes,
} from 'discord.js';

export const COMMAND_NAME = 'imagesearch';
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

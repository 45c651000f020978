/**
 * Discord's registry entry: on when DISCORD_TOKEN is set; its doctor check asks Discord who the
 * token belongs to.
 */
import { DiscordAPIError, REST, Routes } from 'discord.js';
import type { Config } from '../../src/util/config.ts';
import type { CheckResult, DoctorCheck, PlatformEntry } from '../kit/platform.ts';
import { createDiscordAdapter, discordConfigFrom } from './discord-adapter.ts';

const TIMEOUT_MS = 5000;

export const discordPlatform: PlatformEntry = {
  name: 'discord',
  configure(config) {
    const settings = discordConfigFrom(config);
    return settings ? (deps) => createDiscordAdapter({ ...deps, config: settings }) : undefined;
  },
  doctor: discordCheck,
};

/** Discord: `GET /users/@me` with the bot token through @discordjs/rest, DISCORD_API_URL honoured. */
function discordCheck(config: Config): DoctorCheck {
  return {
    name: 'discord',
    async run(): Promise<CheckResult> {
      if (!config.discordToken)
        return { status: 'off', detail: 'off', fix: 'set DISCORD_TOKEN to enable Discord' };
      const rest = new REST({
        retries: 0,
        timeout: TIMEOUT_MS,
        ...(config.discordApiUrl ? { api: config.discordApiUrl } : {}),
      }).setToken(config.discordToken);
      try {
        const me = (await rest.get(Routes.user())) as { id: string; username: string; bot?: boolean };
        if (config.discordApplicationId && config.discordApplicationId !== me.id)
          return {
            status: 'warn',
            detail: `token works (${me.username}), but DISCORD_APPLICATION_ID is not this bot's id`,
            fix: `set DISCORD_APPLICATION_ID=${me.id}`,
          };
        const intent = config.discordMessageContent
          ? 'Message Content intent on'
          : 'mentions and buttons only';
        return { status: 'ok', detail: `${me.username} (${me.id}) — ${intent}` };
      } catch (e) {
        const status = e instanceof DiscordAPIError ? e.status : 0;
        return status === 401
          ? {
              status: 'fail',
              detail: 'the token was rejected (401)',
              fix: 'set DISCORD_TOKEN to the bot token from the Developer Portal (Bot → Reset Token)',
            }
          : {
              status: 'fail',
              detail: status ? `GET /users/@me answered HTTP ${status}` : 'Discord did not answer',
              fix: 'check the network (or DISCORD_API_URL)',
            };
      } finally {
        rest.clearHashSweeper();
        rest.clearHandlerSweeper();
      }
    },
  };
}

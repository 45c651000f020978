/**
 * Registers the `/imagesearch` slash command.
 *
 *   node bin/run-script.js scripts/discord-register-commands.ts --guild 123456789012345678   # one guild, instant
 *   node bin/run-script.js scripts/discord-register-commands.ts                              # global
 *
 * Reads DISCORD_TOKEN, DISCORD_APPLICATION_ID and (optionally) DISCORD_API_URL from the environment / `.env`.
 */
import { parseArgs } from 'node:util';
import { registerCommands } from '../adapters/discord/commands.ts';
import { asImageSearchError } from '../src/core/errors.ts';
import { loadConfig } from '../src/util/config.ts';

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: { guild: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    allowPositionals: false,
  });
  if (values.help) {
    process.stdout.write('usage: discord-register-commands [--guild GUILD_ID]\n');
    return 0;
  }
  try {
    await import('dotenv/config');
  } catch {
    // .env support is a convenience; the environment alone is enough.
  }
  const config = loadConfig();
  if (!config.discordToken || !config.discordApplicationId) {
    process.stderr.write('Set DISCORD_TOKEN and DISCORD_APPLICATION_ID (see adapters/discord/README.md).\n');
    return 2;
  }
  const result = await registerCommands({
    token: config.discordToken,
    applicationId: config.discordApplicationId,
    apiUrl: config.discordApiUrl,
    guildId: values.guild,
  });
  const where =
    result.scope === 'guild' ? `guild ${values.guild}` : 'all guilds (global; may take up to an hour)';
  process.stdout.write(`Registered /${result.names.join(', /')} for ${where}.\n`);
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    // The REST error names the route and status, never the token.
    const err = asImageSearchError(e);
    process.stderr.write(`Registration failed: ${e instanceof Error ? e.message : err.userMessage}\n`);
    process.exitCode = 1;
  },
);

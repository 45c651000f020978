/**
 * `imagesearch`: the one command-line program. Every command is registered here: the data commands
 * (one file each: ./tokenize-command.ts, ./index-command.ts, ./import-npy-command.ts,
 * ./search-command.ts, ./setup-command.ts, ./eval-command.ts), and serve, doctor and
 * register-commands, which call the composition root (../app/) directly. Every failure ends as one friendly line on stderr and a non-zero exit; stack traces
 * only with LOG_LEVEL=debug.
 */
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { config as loadDotenv } from 'dotenv';
import { asImageSearchError, ImageSearchError } from '../../src/core/errors.ts';
import { createLogger } from '../../src/util/logger.ts';
import { doctor } from '../app/doctor.ts';
import { serve } from '../app/serve.ts';
import { registerCommands } from '../discord/commands.ts';
import { type CliContext, defaultCliContext } from './context.ts';
import { registerEvalCommand } from './eval-command.ts';
import { registerImportNpyCommand } from './import-npy-command.ts';
import { registerIndexCommand } from './index-command.ts';
import { registerSearchCommand } from './search-command.ts';
import { registerSetupCommand } from './setup-command.ts';
import { registerTokenizeCommand } from './tokenize-command.ts';

loadDotenv({ quiet: true });

export function buildProgram(ctx: CliContext = defaultCliContext()): Command {
  const program = new Command('imagesearch')
    .description(
      'Chat-native image search: CLIP + exact search + Gemini rerank, answered as one numbered grid.',
    )
    .showHelpAfterError('(run imagesearch --help for usage)')
    .exitOverride();
  registerTokenizeCommand(program, ctx);
  registerIndexCommand(program, ctx);
  registerImportNpyCommand(program, ctx);
  registerSearchCommand(program, ctx);
  registerSetupCommand(program, ctx);
  registerEvalCommand(program, ctx);

  program
    .command('doctor')
    .description('Check model, index, state store, Gemini, Slack and Discord; say what to fix')
    .action(async () => {
      const code = await doctor(process.env, ctx.out);
      if (code !== 0) process.exitCode = code;
    });

  program
    .command('register-commands')
    .description(
      'Register the /imagesearch slash command with Discord (DISCORD_TOKEN, DISCORD_APPLICATION_ID)',
    )
    .option('--guild <id>', 'one server, shown at once (default: global, may take up to an hour)')
    .action(async (o: { guild?: string }) => {
      const config = ctx.config();
      if (!config.discordToken || !config.discordApplicationId)
        throw new ImageSearchError(
          'usage',
          'Set DISCORD_TOKEN and DISCORD_APPLICATION_ID (see adapters/discord/README.md).',
        );
      const result = await registerCommands({
        token: config.discordToken,
        applicationId: config.discordApplicationId,
        apiUrl: config.discordApiUrl,
        guildId: o.guild,
      });
      const where =
        result.scope === 'guild' ? `guild ${o.guild}` : 'all guilds (global; may take up to an hour)';
      ctx.out(`Registered /${result.names.join(', /')} for ${where}.`);
    });

  program
    .command('serve')
    .description(
      'Run the bot: local web chat, plus Slack and Discord when configured (sets up data/ on first run)',
    )
    .option('--no-setup', "don't download the model / build the index when missing")
    .option(
      '--discord-shards <n>',
      'run Discord in shard processes under discord.js ShardingManager ("auto" or a number)',
      (v: string) => {
        if (v === 'auto') return v;
        const n = Number(v);
        if (!Number.isInteger(n) || n < 1)
          throw new InvalidArgumentError('--discord-shards takes "auto" or a positive number.');
        return n;
      },
    )
    .action(async (o: { setup: boolean; discordShards?: number | 'auto' }) => {
      const config = ctx.config();
      const logger = createLogger({ level: config.logLevel });
      const running = await serve(config, logger, { setup: o.setup, discordShards: o.discordShards });
      process.stderr.write(`\n  imagesearch is ready: open ${running.bot.url}\n\n`);
      const shutdown = (signal: string) => {
        logger.info({ signal }, 'signal received');
        running.stop().then(
          () => process.exit(0),
          (e: unknown) => {
            logger.error({ err: e }, 'shutdown failed');
            process.exit(1);
          },
        );
      };
      process.once('SIGTERM', () => shutdown('SIGTERM'));
      process.once('SIGINT', () => shutdown('SIGINT'));
    });
  return program;
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      // Commander already printed its message (or the help / version).
      return e.exitCode === 0 ? 0 : 2;
    }
    const err = asImageSearchError(e);
    process.stderr.write(`imagesearch: ${err.userMessage}\n`);
    if (process.env.LOG_LEVEL === 'debug' || process.env.LOG_LEVEL === 'trace') {
      process.stderr.write(`${(e as Error)?.stack ?? String(e)}\n`);
    } else if (!(e instanceof ImageSearchError)) {
      process.stderr.write(`  (${(e as Error)?.message ?? String(e)})\n`);
    }
    return err.code === 'usage' ? 2 : 1;
  }
}

const code = await main(process.argv);
if (code !== 0) process.exitCode = code;

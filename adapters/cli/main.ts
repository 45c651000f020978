/**
 * `imagesearch` command line. Core commands come from src/cli; `serve` (the bot) is added here
 * because it wires the platform adapters. Every failure ends as one friendly line on stderr and a
 * non-zero exit; stack traces only with LOG_LEVEL=debug.
 */
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { config as loadDotenv } from 'dotenv';
import { asImageSearchError, ImageSearchError } from '../../src/core/errors.ts';
import { needsSetup, runSetup } from '../../src/setup/setup.ts';
import { createLogger } from '../../src/util/logger.ts';
import { registerDoctorCommand } from '../app/platform-doctor.ts';
import { startBot } from '../app/serve.ts';
import { startDiscordSharding } from '../discord/sharding.ts';
import { defaultCliContext, registerCoreCommands } from './commands.ts';

loadDotenv({ quiet: true });

export function buildProgram(): Command {
  const ctx = defaultCliContext();
  const program = new Command('imagesearch')
    .description(
      'Chat-native image search: CLIP + exact search + Gemini rerank, answered as one numbered grid.',
    )
    .showHelpAfterError('(run imagesearch --help for usage)')
    .exitOverride();
  registerCoreCommands(program, ctx);
  registerDoctorCommand(program);

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
      const missing = await needsSetup(config);
      if ((missing.model || missing.index) && o.setup) {
        logger.info(
          missing,
          'first run: fetching the model and building the index (this takes a few minutes)',
        );
        await runSetup({ config, logger, progress: true, hfToken: config.hfToken });
      }
      const sharded = o.discordShards !== undefined;
      if (sharded && !config.discordToken)
        throw new ImageSearchError('usage', '--discord-shards needs DISCORD_TOKEN.');
      const bot = await startBot(config, logger, { discordInProcess: !sharded });
      // Each shard process builds its own core from the same configuration (src/app/handler.ts).
      const shards =
        sharded && config.discordToken
          ? await startDiscordSharding({
              token: config.discordToken,
              apiUrl: config.discordApiUrl,
              shards: o.discordShards!,
              logger,
            })
          : undefined;
      process.stderr.write(`\n  imagesearch is ready: open ${bot.url}\n\n`);
      const shutdown = (signal: string) => {
        logger.info({ signal }, 'signal received');
        Promise.all([bot.stop(), shards?.stop()]).then(
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

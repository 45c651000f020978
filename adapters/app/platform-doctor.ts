/**
 * `imagesearch doctor`: the core's checks (src/ops/doctor.ts) plus the platforms' token checks,
 * which need the platform SDKs and so live in adapters/. Exit code 1 when a required check fails.
 */
import { webApi } from '@slack/bolt';
import type { Command } from 'commander';
import { DiscordAPIError, REST, Routes } from 'discord.js';
import { asImageSearchError } from '../../src/core/errors.ts';
import { type Config, loadConfig } from '../../src/util/config.ts';
import { type Logger, silentLogger } from '../../src/util/logger.ts';
import {
  type CheckResult,
  type DoctorCheck,
  geminiCheck,
  modelAndIndexChecks,
  runDoctor,
  stateCheck,
} from './doctor.ts';

const TIMEOUT_MS = 5000;

/** Slack: `auth.test` with the bot token (and `apps.connections.open` with an app token), SLACK_API_URL honoured. */
export function slackCheck(config: Config): DoctorCheck {
  return {
    name: 'slack',
    async run(): Promise<CheckResult> {
      if (!config.slackBotToken)
        return {
          status: 'off',
          detail: 'off',
          fix: 'set SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET to enable Slack',
        };
      if (!config.slackSigningSecret && !config.slackAppToken)
        return {
          status: 'fail',
          detail: 'SLACK_BOT_TOKEN is set but Slack cannot receive events',
          fix: 'set SLACK_SIGNING_SECRET (HTTP mode) or SLACK_APP_TOKEN (Socket Mode)',
        };
      const options = {
        ...(config.slackApiUrl ? { slackApiUrl: config.slackApiUrl } : {}),
        retryConfig: { retries: 0 },
        timeout: TIMEOUT_MS,
        logLevel: webApi.LogLevel.ERROR,
      };
      try {
        const auth = await new webApi.WebClient(config.slackBotToken, options).auth.test();
        let mode = 'HTTP events (SLACK_SIGNING_SECRET)';
        if (config.slackAppToken) {
          try {
            await new webApi.WebClient(config.slackAppToken, options).apps.connections.open();
            mode = 'Socket Mode';
          } catch (e) {
            return {
              status: 'fail',
              detail: `bot token works, but the app-level token was refused (${slackError(e)})`,
              fix: 'set SLACK_APP_TOKEN to an app-level token (xapp-…) with the connections:write scope',
            };
          }
        }
        return {
          status: 'ok',
          detail: `${auth.user ?? 'bot'} in ${auth.team ?? auth.team_id ?? 'workspace'} — ${mode}`,
        };
      } catch (e) {
        const code = slackError(e);
        return {
          status: 'fail',
          detail: `auth.test failed (${code})`,
          fix: /auth|token|revoked|account_inactive/.test(code)
            ? "set SLACK_BOT_TOKEN to the app's Bot User OAuth Token (xoxb-…)"
            : 'check the network (or SLACK_API_URL)',
        };
      }
    },
  };
}

// Only Slack's short error code or the kind of failure: never the SDK's message, which may echo a token.
function slackError(e: unknown): string {
  const data = (e as { data?: { error?: unknown } })?.data;
  if (typeof data?.error === 'string') return data.error;
  const code = (e as { code?: unknown })?.code;
  return typeof code === 'string' ? code : 'unreachable';
}

/** Discord: `GET /users/@me` with the bot token through @discordjs/rest, DISCORD_API_URL honoured. */
export function discordCheck(config: Config): DoctorCheck {
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

/** Every check, in the order they are printed. */
export function doctorChecks(config: Config, logger: Logger): DoctorCheck[] {
  return [
    ...modelAndIndexChecks(config, logger),
    stateCheck(config, logger),
    geminiCheck(config),
    slackCheck(config),
    discordCheck(config),
  ];
}

/** Runs doctor against an environment; returns the exit code. A bad configuration is reported, not thrown. */
export async function doctor(
  env: NodeJS.ProcessEnv,
  write: (line: string) => void,
  logger: Logger = silentLogger(),
): Promise<number> {
  let config: Config;
  try {
    config = loadConfig(env);
  } catch (e) {
    write(`✖ config  ${asImageSearchError(e).userMessage}`);
    write('          → fix the variables named above (in the environment or .env)');
    return 1;
  }
  write(`✔ config  valid (data in ${config.dataDir})`);
  return runDoctor(doctorChecks(config, logger), write);
}

/** Adds `imagesearch doctor` to the CLI. */
export function registerDoctorCommand(program: Command): void {
  program
    .command('doctor')
    .description('Check model, index, state store, Gemini, Slack and Discord; say what to fix')
    .action(async () => {
      const code = await doctor(process.env, (line) => process.stdout.write(`${line}\n`));
      if (code !== 0) process.exitCode = code;
    });
}

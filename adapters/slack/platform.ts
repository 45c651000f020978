/**
 * Slack's registry entry: on when SLACK_BOT_TOKEN and a way to receive events (SLACK_SIGNING_SECRET
 * for HTTP, SLACK_APP_TOKEN for Socket Mode) are set; its doctor check asks Slack about the tokens.
 */
import { webApi } from '@slack/bolt';
import type { Config } from '../../src/util/config.ts';
import type { CheckResult, DoctorCheck, PlatformEntry } from '../kit/platform.ts';
import { createSlackAdapter, slackConfigFrom } from './slack-adapter.ts';

const TIMEOUT_MS = 5000;

export const slackPlatform: PlatformEntry = {
  name: 'slack',
  configure(config, logger) {
    const settings = slackConfigFrom(config);
    if (!settings) {
      if (config.slackBotToken)
        logger.warn(
          'SLACK_BOT_TOKEN is set but neither SLACK_SIGNING_SECRET nor SLACK_APP_TOKEN: Slack stays off',
        );
      return undefined;
    }
    return (deps) => createSlackAdapter({ ...deps, config: settings, threadTtlMs: config.stateTtlMs });
  },
  doctor: slackCheck,
};

/** Slack: `auth.test` with the bot token (and `apps.connections.open` with an app token), SLACK_API_URL honoured. */
function slackCheck(config: Config): DoctorCheck {
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

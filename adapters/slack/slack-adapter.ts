/**
 * The Slack adapter: Bolt for verification, acks and the Web API client; our listeners for the rest.
 *
 * Transport:
 * - HTTP mode (default): Bolt's HTTPReceiver does signature verification (v0 HMAC, 5-minute window),
 *   url_verification and ssl_check, and acks. It is exposed as an {@link HttpRoute} for
 *   `POST /slack/events` so the composition root (or a test harness) mounts it on its server;
 *   events, slash commands and interactivity all use that one URL.
 * - Socket Mode when an app token (`xapp-…`) is configured: no public URL needed.
 */
import { App, HTTPReceiver, SocketModeReceiver } from '@slack/bolt';
import type { Adapter, AdapterDeps, HttpRoute } from '../../src/core/adapter.ts';
import { DEFAULT_STATE_TTL_MS } from '../../src/core/defaults.ts';
import { ImageSearchError } from '../../src/core/errors.ts';
import type { Logger } from '../../src/core/logger.ts';
import { RequestFlow } from '../kit/request-flow.ts';
import { boltLogger } from './bolt-logger.ts';
import { slackFileOrigins } from './files.ts';
import { registerListeners } from './listeners.ts';
import { SearchFlow } from './search-flow.ts';
import { ThreadRegistry } from './thread-registry.ts';

/** The one URL path Slack posts events, commands and button clicks to (see manifest.yml). */
export const SLACK_EVENTS_PATH = '/slack/events';

/** Slack's replay window: requests stamped further than this from our clock are refused. */
const MAX_CLOCK_SKEW_S = 5 * 60;

/**
 * Whether `X-Slack-Request-Timestamp` lies within ±5 minutes of now. Bolt refuses only old stamps;
 * a request stamped in the future would stay replayable until that time passes, so both sides count.
 * A missing or malformed stamp passes here: Bolt's signature check refuses it.
 */
export function slackTimestampFresh(header: string | string[] | undefined, nowMs = Date.now()): boolean {
  const value = Array.isArray(header) ? header[0] : header;
  if (value === undefined || !/^\d+$/.test(value)) return true;
  return Math.abs(Number(value) - nowMs / 1000) <= MAX_CLOCK_SKEW_S;
}

/** Secrets and endpoints. Each field names the environment variable that sets it. */
export interface SlackAdapterConfig {
  /** SLACK_BOT_TOKEN (`xoxb-…`). */
  botToken: string;
  /** SLACK_SIGNING_SECRET: required in HTTP mode. */
  signingSecret?: string | undefined;
  /** SLACK_APP_TOKEN (`xapp-…`): when set, Socket Mode is used instead of HTTP. */
  appToken?: string | undefined;
  /** SLACK_API_URL: Web API base, default `https://slack.com/api/` (tests use a local fake). */
  apiUrl?: string | undefined;
}

/** What {@link createSlackAdapter} needs. */
export interface SlackAdapterOptions extends AdapterDeps {
  config: SlackAdapterConfig;
  /**
   * Origins besides `https://files.slack.com` the bot token may be sent to when downloading a
   * shared image: a local test peer's, set by its harness. SLACK_API_URL never adds one by itself.
   */
  fileOrigins?: readonly string[];
  /** Slash command name; default `/imagesearch`. */
  command?: string;
  /** Largest image accepted for query by image; default 10 MB. */
  maxImageBytes?: number;
  /** How long a result thread is recognised (STATE_TTL_DAYS); default 7 days. */
  threadTtlMs?: number;
  /** How long stop() waits for in-flight replies before aborting them; default 10 s. */
  drainTimeoutMs?: number;
  /**
   * Waits between attempts while Slack refuses the grid's image block as `invalid_blocks` (upload
   * not processed yet); default 250, 500, 1000, 2000 ms, then the grid is shared as a file instead.
   */
  imageReadyRetryMs?: readonly number[];
}

/** The Slack {@link Adapter}, plus what tests and the composition root want to know. */
export interface SlackAdapter extends Adapter {
  readonly mode: 'http' | 'socket';
  /** Routes to mount on the shared server (HTTP mode); empty in Socket Mode. */
  readonly routes: HttpRoute[];
  /** Requests still being answered (for tests and graceful shutdown). */
  readonly inflight: number;
}

/** The adapter's settings from the validated app config, or undefined when Slack is not configured. */
export function slackConfigFrom(config: {
  slackBotToken: string | undefined;
  slackSigningSecret: string | undefined;
  slackAppToken: string | undefined;
  slackApiUrl: string | undefined;
}): SlackAdapterConfig | undefined {
  if (!config.slackBotToken || !(config.slackSigningSecret || config.slackAppToken)) return undefined;
  return {
    botToken: config.slackBotToken,
    signingSecret: config.slackSigningSecret,
    appToken: config.slackAppToken,
    apiUrl: config.slackApiUrl,
  };
}

export function createSlackAdapter(opts: SlackAdapterOptions): SlackAdapter {
  const { config, handler } = opts;
  const logger = opts.logger.child({ adapter: 'slack' });
  const { app, mode, httpReceiver } = createBoltApp(config, logger);

  // Acks are answered on the same event loop as the work that follows them, so the flow bounds the
  // replies built at once: a burst of commands queues its searches instead of starving the acks of
  // later commands (Slack's 3-second limit).
  const requests = new RequestFlow({
    platform: 'slack',
    handler,
    logger,
    dedupe: opts.dedupe,
    maxConcurrent: opts.maxConcurrent,
    observeUpload: opts.observeUpload,
  });
  const flow = new SearchFlow({
    flow: requests,
    logger,
    download: {
      botToken: config.botToken,
      origins: slackFileOrigins(opts.fileOrigins),
      maxBytes: opts.maxImageBytes ?? 10 * 1024 * 1024,
    },
    threads: new ThreadRegistry({ state: opts.state, ttlMs: opts.threadTtlMs ?? DEFAULT_STATE_TTL_MS }),
    ...(opts.imageReadyRetryMs ? { imageReadyRetryMs: opts.imageReadyRetryMs } : {}),
  });
  registerListeners(app, {
    flow,
    requests,
    logger,
    command: opts.command ?? '/imagesearch',
  });

  let ready = false;
  const route: HttpRoute = (req, res) => {
    if (!httpReceiver || req.method !== 'POST') return false;
    const path = (req.url ?? '').split('?')[0];
    if (path !== SLACK_EVENTS_PATH) return false;
    if (!ready) {
      // Not initialised yet (or stopping): 503 makes Slack retry events later instead of losing them.
      res.writeHead(503, { 'content-type': 'text/plain' }).end('starting');
      return true;
    }
    if (!slackTimestampFresh(req.headers['x-slack-request-timestamp'])) {
      logger.warn('slack: request timestamp outside ±5 minutes refused');
      req.resume();
      res.writeHead(401, { 'content-type': 'text/plain' }).end('stale or future timestamp');
      return true;
    }
    httpReceiver.requestListener(req, res);
    return true;
  };

  return {
    name: 'slack',
    mode,
    routes: mode === 'http' ? [route] : [],
    get inflight() {
      return requests.inflight;
    },
    async start() {
      requests.resume();
      try {
        await app.init();
      } catch (e) {
        throw new ImageSearchError('config_invalid', 'Slack rejected SLACK_BOT_TOKEN (auth.test failed).', {
          cause: e,
        });
      }
      if (mode === 'socket') {
        await app.start();
        logger.info('slack: connected in Socket Mode');
      } else {
        logger.info({ path: SLACK_EVENTS_PATH }, 'slack: HTTP route ready');
      }
      ready = true;
    },
    async stop() {
      ready = false;
      if (mode === 'socket')
        await app.stop().catch((e: unknown) => logger.warn({ err: e }, 'slack: stop failed'));
      await requests.drain(opts.drainTimeoutMs ?? 10_000);
    },
  };
}

/**
 * Bolt's App with the receiver the configuration names: Socket Mode when SLACK_APP_TOKEN is set
 * (no public URL needed), else HTTP on SLACK_EVENTS_PATH, served by the bot's own server.
 */
function createBoltApp(
  config: SlackAdapterOptions['config'],
  logger: Logger,
): { app: App; mode: 'http' | 'socket'; httpReceiver: HTTPReceiver | undefined } {
  if (!config.botToken) throw new ImageSearchError('config_invalid', 'Slack needs SLACK_BOT_TOKEN.');
  const mode: 'http' | 'socket' = config.appToken ? 'socket' : 'http';
  if (mode === 'http' && !config.signingSecret) {
    throw new ImageSearchError(
      'config_invalid',
      'Slack HTTP mode needs SLACK_SIGNING_SECRET (or set SLACK_APP_TOKEN for Socket Mode).',
    );
  }

  const sdkLogger = boltLogger(logger);
  const clientOptions = {
    ...(config.apiUrl ? { slackApiUrl: config.apiUrl } : {}),
    // The SDK's default retries for half an hour; a chat answer that late is worse than an error.
    // Rate-limit handling (wait Retry-After, then retry) stays on.
    retryConfig: { retries: 3, factor: 2, minTimeout: 500, maxTimeout: 5_000 },
    logger: sdkLogger,
  };

  let httpReceiver: HTTPReceiver | undefined;
  let receiver: HTTPReceiver | SocketModeReceiver;
  if (mode === 'socket') {
    receiver = new SocketModeReceiver({
      appToken: config.appToken ?? '',
      logger: sdkLogger,
      installerOptions: { clientOptions },
    });
  } else {
    httpReceiver = new HTTPReceiver({
      signingSecret: config.signingSecret ?? '',
      endpoints: [SLACK_EVENTS_PATH],
      logger: sdkLogger,
      // Ack first, work after: the HTTP response leaves as soon as a listener calls ack().
      processBeforeResponse: false,
    });
    receiver = httpReceiver;
  }

  const app = new App({
    token: config.botToken,
    receiver,
    logger: sdkLogger,
    clientOptions,
    // auth.test runs in start(), where a bad token becomes a clear error instead of an unhandled rejection.
    deferInitialization: true,
    // Conversation state lives in the core; Bolt's own store would only cost time on every ack.
    convoStore: false,
  });
  return { app, mode, httpReceiver };
}

/**
 * The composition root of the running bot: builds the core, the state store and the conversation
 * engine, then starts every adapter whose configuration is present on one shared HTTP server.
 * It lives in adapters/ because it is the one place that knows both the core and the platforms.
 */

import type { Adapter, HttpRoute } from '../../src/core/adapter.ts';
import {
  createMetrics,
  instrumentHandler,
  instrumentSearch,
  type Metrics,
} from '../../src/metrics/metrics.ts';
import { metricsRoute, readinessRoute } from '../../src/metrics/routes.ts';
import type { ManagedStateStore } from '../../src/state/state-store.ts';
import type { Config } from '../../src/util/config.ts';
import type { Logger } from '../../src/util/logger.ts';
import { createDiscordAdapter, discordConfigFrom } from '../discord/discord-adapter.ts';
import { createSlackAdapter, slackConfigFrom } from '../slack/slack-adapter.ts';
import { createWebAdapter } from '../web/web-adapter.ts';
import { createHandlerStack } from './handler.ts';
import { createHttpServer, type HttpServer } from './http-server.ts';
import type { Core } from './stack.ts';

export interface RunningBot {
  core: Core;
  state: ManagedStateStore;
  http: HttpServer;
  adapters: Adapter[];
  /** Prometheus metrics served at /metrics. */
  metrics: Metrics;
  url: string;
  /** Stop taking work, let in-flight searches finish, close adapters, the store and the core. */
  stop(): Promise<void>;
}

export interface StartBotOptions {
  /** Extra routes (metrics, readiness) mounted before the adapters'. */
  routes?: (ctx: { core: Core; state: ManagedStateStore; adapters: Adapter[] }) => HttpRoute[];
  /** Metrics registry to feed (default: a new one with process metrics). */
  metrics?: Metrics;
  /** Run Discord in this process (default). False when `serve --discord-shards` runs it in shard processes. */
  discordInProcess?: boolean;
}

export async function startBot(
  config: Config,
  logger: Logger,
  opts: StartBotOptions = {},
): Promise<RunningBot> {
  const metrics = opts.metrics ?? createMetrics();
  // Decorators, so the core stays unaware of metrics: per-stage timings and per-platform outcomes.
  const { core, state, handler } = await createHandlerStack(config, logger, {
    onGeminiCall: (call) => metrics.observeGemini(call),
    decorateSearch: (search) => instrumentSearch(search, metrics),
    decorateHandler: (engine) => instrumentHandler(engine, metrics),
  });
  const uploads = (platform: 'slack' | 'discord' | 'web') => (seconds: number, ok: boolean) =>
    metrics.observeUpload(platform, seconds, ok);

  const adapters: Adapter[] = [];
  if (config.webChat) adapters.push(createWebAdapter({ handler, logger }));
  const slack = slackConfigFrom(config);
  if (slack)
    adapters.push(createSlackAdapter({ config: slack, handler, logger, observeUpload: uploads('slack') }));
  else if (config.slackBotToken)
    logger.warn(
      'SLACK_BOT_TOKEN is set but neither SLACK_SIGNING_SECRET nor SLACK_APP_TOKEN: Slack stays off',
    );
  const discord = opts.discordInProcess === false ? undefined : discordConfigFrom(config);
  if (discord) {
    adapters.push(
      createDiscordAdapter({
        config: discord,
        handler,
        logger,
        observeUpload: uploads('discord'),
      }),
    );
  }

  let stopping: Promise<void> | undefined;
  const routes: HttpRoute[] = [
    metricsRoute(metrics),
    readinessRoute({ model: core.model, index: core.index, state, stopping: () => stopping !== undefined }),
    ...(opts.routes?.({ core, state, adapters }) ?? []),
    ...adapters.flatMap((a) => a.routes ?? []),
  ];
  const http = createHttpServer({ routes, logger });
  const address = await http.listen(config.port, config.host);
  for (const a of adapters) await a.start();
  logger.info({ url: address.url, adapters: adapters.map((a) => a.name) }, 'imagesearch is running');

  return {
    core,
    state,
    http,
    adapters,
    metrics,
    url: address.url,
    stop() {
      stopping ??= (async () => {
        logger.info('shutting down');
        await Promise.allSettled(adapters.map((a) => a.stop()));
        await http.close();
        await state.close();
        await core.close();
      })();
      return stopping;
    },
  };
}

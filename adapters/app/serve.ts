/**
 * `imagesearch serve`: builds a stack (./stack.ts), starts every platform the configuration turns
 * on (./platforms.ts) on one shared HTTP server, with metrics and readiness routes. Discord may
 * instead run in shard processes (./discord-shard.ts), one stack each.
 */
import { fileURLToPath } from 'node:url';
import type { Adapter, HttpRoute } from '../../src/core/adapter.ts';
import { ImageSearchError } from '../../src/core/errors.ts';
import { geminiPrice } from '../../src/metrics/cost.ts';
import {
  createMetrics,
  instrumentHandler,
  instrumentSearch,
  type Metrics,
} from '../../src/metrics/metrics.ts';
import {
  checkReadiness,
  metricsRoute,
  type ReadinessSources,
  readinessRoute,
} from '../../src/metrics/routes.ts';
import { needsSetup } from '../../src/setup/setup.ts';
import type { ManagedStateStore } from '../../src/state/state-store.ts';
import type { Config } from '../../src/util/config.ts';
import type { Logger } from '../../src/util/logger.ts';
import { type DiscordSharding, startDiscordSharding } from '../discord/sharding.ts';
import { setupFromConfig } from './data.ts';
import { createHttpServer, type HttpServer } from './http-server.ts';
import { PLATFORMS } from './platforms.ts';
import { type Core, createStack } from './stack.ts';

/** The entry each Discord shard process runs. */
const DISCORD_SHARD_ENTRY = fileURLToPath(new URL('./discord-shard.ts', import.meta.url));

export interface RunningBot {
  core: Core;
  state: ManagedStateStore;
  http: HttpServer;
  adapters: Adapter[];
  /** Prometheus metrics served at /metrics. */
  metrics: Metrics;
  url: string;
  /** Where `/metrics` is served when METRICS_PORT moves it off the main port. */
  metricsUrl?: string | undefined;
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
  const metrics =
    opts.metrics ??
    createMetrics({
      geminiPrice: geminiPrice(config.geminiModel, config.geminiPriceOverride),
      geminiQuota: config.geminiQuota,
    });
  // Decorators, so the core stays unaware of metrics: per-stage timings and per-platform outcomes.
  const { core, state, dedupe, handler } = await createStack(config, logger, {
    onGeminiCall: (call) => metrics.observeGemini(call),
    decorateSearch: (search) => instrumentSearch(search, metrics),
    decorateHandler: (engine) => instrumentHandler(engine, metrics),
  });
  const adapters: Adapter[] = [];
  for (const platform of PLATFORMS) {
    if (platform.name === 'discord' && opts.discordInProcess === false) continue;
    const create = platform.configure(config, logger);
    if (!create) continue;
    const observeUpload = (seconds: number, ok: boolean) => metrics.observeUpload(platform.name, seconds, ok);
    adapters.push(
      create({
        handler,
        logger,
        dedupe,
        state,
        replicated: state.replicated,
        maxConcurrent: config.maxConcurrentSearches,
        observeUpload,
      }),
    );
  }

  let stopping: Promise<void> | undefined;
  const readiness: ReadinessSources = {
    model: core.model,
    index: core.index,
    state,
    stopping: () => stopping !== undefined,
  };
  metrics.trackReadiness(async () => (await checkReadiness(readiness)).ready);
  // METRICS_PORT moves /metrics to a listener of its own; METRICS_TOKEN guards it wherever it is.
  const metricsRoutes = [metricsRoute(metrics, { token: config.metricsToken })];
  const separateMetrics = config.metricsPort !== undefined;
  const routes: HttpRoute[] = [
    ...(separateMetrics ? [] : metricsRoutes),
    readinessRoute(readiness),
    ...(opts.routes?.({ core, state, adapters }) ?? []),
    ...adapters.flatMap((a) => a.routes ?? []),
  ];
  const http = createHttpServer({ routes, logger });
  const address = await http.listen(config.port, config.host);
  let metricsHttp: HttpServer | undefined;
  let metricsUrl: string | undefined;
  if (config.metricsPort !== undefined) {
    metricsHttp = createHttpServer({ routes: metricsRoutes, logger });
    metricsUrl = (await metricsHttp.listen(config.metricsPort, config.host)).url;
  }
  for (const a of adapters) await a.start();
  logger.info({ url: address.url, adapters: adapters.map((a) => a.name) }, 'imagesearch is running');

  return {
    core,
    state,
    http,
    adapters,
    metrics,
    url: address.url,
    metricsUrl,
    stop() {
      stopping ??= (async () => {
        logger.info('shutting down');
        await Promise.allSettled(adapters.map((a) => a.stop()));
        await http.close();
        await metricsHttp?.close();
        await state.close();
        await core.close();
      })();
      return stopping;
    },
  };
}

export interface ServeOptions {
  /** Fetch the model and build the index first when they are missing (the first run). */
  setup: boolean;
  /** Run Discord in shard processes under discord.js's ShardingManager: a count, or Discord's advice. */
  discordShards?: number | 'auto' | undefined;
}

/** A running `serve`: the bot, and Discord's shard processes when sharded. */
export interface Serving {
  bot: RunningBot;
  shards: DiscordSharding | undefined;
  stop(): Promise<void>;
}

export async function serve(config: Config, logger: Logger, opts: ServeOptions): Promise<Serving> {
  const missing = await needsSetup(config);
  if ((missing.model || missing.index) && opts.setup) {
    logger.info(missing, 'first run: fetching the model and building the index (this takes a few minutes)');
    await setupFromConfig(config, logger, { progress: true });
  }
  const sharded = opts.discordShards !== undefined;
  if (sharded && !config.discordToken)
    throw new ImageSearchError('usage', '--discord-shards needs DISCORD_TOKEN.');
  const bot = await startBot(config, logger, { discordInProcess: !sharded });
  // Each shard process builds its own stack from the same configuration (./discord-shard.ts).
  const shards =
    opts.discordShards !== undefined && config.discordToken
      ? await startDiscordSharding({
          shardFile: DISCORD_SHARD_ENTRY,
          token: config.discordToken,
          apiUrl: config.discordApiUrl,
          shards: opts.discordShards,
          logger,
        })
      : undefined;
  return {
    bot,
    shards,
    async stop() {
      await Promise.all([bot.stop(), shards?.stop()]);
    },
  };
}

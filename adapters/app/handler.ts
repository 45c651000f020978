import { createConversationEngine } from '../../src/conversation/engine.ts';
import type { ConversationHandler, SearchService } from '../../src/core/types.ts';
import { createStateStore, type ManagedStateStore } from '../../src/state/state-store.ts';
import type { Config } from '../../src/util/config.ts';
import type { Logger } from '../../src/util/logger.ts';
import { type Core, type CoreOptions, createCore } from './stack.ts';

export interface HandlerStack {
  core: Core;
  state: ManagedStateStore;
  handler: ConversationHandler;
  close(): Promise<void>;
}

/** Hooks for cross-cutting concerns (metrics) that wrap the core's parts without it knowing. */
export interface HandlerStackOptions {
  onGeminiCall?: CoreOptions['onGeminiCall'];
  decorateSearch?: (search: SearchService) => SearchService;
  decorateHandler?: (handler: ConversationHandler) => ConversationHandler;
}

/** Core + state store + conversation engine: everything an adapter needs, from configuration. */
export async function createHandlerStack(
  config: Config,
  logger: Logger,
  opts: HandlerStackOptions = {},
): Promise<HandlerStack> {
  const core = await createCore(config, logger, {
    warmVision: true,
    ...(opts.onGeminiCall ? { onGeminiCall: opts.onGeminiCall } : {}),
  });
  const state = createStateStore({
    url: config.stateUrl,
    dataDir: config.dataDir,
    ttlMs: config.stateTtlMs,
    logger,
  });
  const engine = createConversationEngine({
    search: opts.decorateSearch ? opts.decorateSearch(core.search) : core.search,
    state,
    rewriter: core.reranker.enabled ? core.reranker : undefined,
    logger,
    rateLimitPerMinute: config.rateLimitPerMinute,
    maxConcurrent: config.maxConcurrentSearches,
    ttlMs: config.stateTtlMs,
  });
  const handler = opts.decorateHandler ? opts.decorateHandler(engine) : engine;
  return {
    core,
    state,
    handler,
    async close() {
      await state.close();
      await core.close();
    },
  };
}

/** Entry used by each Discord shard process (adapters/discord/shard.ts). */
export async function createConversationHandler(
  config: Config,
  logger: Logger,
): Promise<ConversationHandler> {
  return (await createHandlerStack(config, logger)).handler;
}

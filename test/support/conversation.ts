/**
 * A conversation engine as the conversation tests drive it: the in-memory search service (or the
 * one given), a memory state store, generous limits, and `ask` for one web conversation, each call
 * a new request id. `load` reads back what the engine remembered.
 */
import { conversationKey, parseConversationState } from '../../src/conversation/conversation-state.ts';
import { ConversationEngine, type ConversationEngineOptions } from '../../src/conversation/engine.ts';
import type { BotReply, SearchRequest, SearchService } from '../../src/core/types.ts';
import { createStateStore } from '../../src/state/state-store.ts';
import { silentLogger } from '../../src/util/logger.ts';
import { tempDir } from './fixtures.ts';
import { createMemorySearchService, type MemorySearchService } from './memory-search.ts';

export function conversationHarness<S extends SearchService = MemorySearchService>(
  search: S = createMemorySearchService() as SearchService as S,
  over: Partial<ConversationEngineOptions> = {},
) {
  const state = createStateStore({
    url: 'memory://',
    dataDir: tempDir(),
    ttlMs: 60_000,
    logger: silentLogger(),
  });
  const engine = new ConversationEngine({
    search,
    state,
    logger: silentLogger(),
    rateLimitPerMinute: 1000,
    maxConcurrent: 4,
    ttlMs: 60_000,
    ...over,
  });
  let seq = 0;
  const ask = (text: string | undefined, extra: Partial<SearchRequest> = {}) =>
    engine.handle({
      platform: 'web',
      conversationId: 'web:s1',
      userId: 'web:u1',
      ...(text !== undefined ? { text } : {}),
      requestId: `r${++seq}`,
      ...extra,
    });
  const load = async (id = 'web:s1') =>
    parseConversationState(await (over.state ?? state).get(conversationKey(id)));
  return { search, state, engine, ask, load };
}

/** The reply, narrowed to results; fails the test with what came instead. */
export function results(reply: BotReply) {
  if (reply.kind !== 'results') throw new Error(`expected results, got ${reply.kind}: ${reply.text}`);
  return reply;
}

/**
 * State-store round trips per search, counted end to end: the real Slack adapter (Bolt, HTTP mode)
 * against the local Slack peer, the real conversation engine over the in-memory search service, and
 * one state store wrapped so every call that would cross the network to Redis is counted (get, set,
 * delete, withLock, a dedupe claim, a rate-limit take). The store says it is replicated, as Redis
 * does, so every replica-sharing write is made.
 *
 * Before the one request flow (adapters/kit/request-flow.ts) a fresh `/imagesearch` cost 8: the
 * delivery claim, the result-thread record, the lock, the engine's second claim of the same delivery,
 * the conversation read, the rate take, the save and the shared reply. Now 5: one claim per
 * delivery, no shared reply for a platform that drops repeats (only the web chat replays), and no
 * read of a conversation a new search replaces.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHttpServer } from '../../adapters/app/http-server.ts';
import { createSlackAdapter, type SlackAdapter } from '../../adapters/slack/slack-adapter.ts';
import { createWebAdapter } from '../../adapters/web/web-adapter.ts';
import { ConversationEngine } from '../../src/conversation/engine.ts';
import type { Dedupe, RateBuckets, StateStore } from '../../src/core/types.ts';
import { createStateStore, type ManagedStateStore } from '../../src/state/state-store.ts';
import { silentLogger } from '../../src/util/logger.ts';
import { type SlackPeer, startSlackPeer } from '../peers/slack-peer.ts';
import { postSigned } from '../peers/slack-signing.ts';
import { BOT_TOKEN, SIGNING_SECRET, slackFixture, unique } from '../slack/harness.ts';
import { tempDir } from '../support/fixtures.ts';
import { createMemorySearchService } from '../support/memory-search.ts';

/** A state store that counts its round trips by operation. */
function counting(inner: ManagedStateStore) {
  const calls: string[] = [];
  const count = <T>(op: string, p: Promise<T>) => {
    calls.push(op);
    return p;
  };
  const dedupe: Dedupe = { claim: (key, ttl) => count('claim', inner.dedupe.claim(key, ttl)) };
  const buckets: RateBuckets = { take: (key, n) => count('take', inner.buckets.take(key, n)) };
  const store: StateStore & {
    available: boolean;
    replicated: boolean;
    dedupe: Dedupe;
    buckets: RateBuckets;
  } = {
    get: (key) => count('get', inner.get(key)),
    set: (key, value, ttl) => count('set', inner.set(key, value, ttl)),
    delete: (key) => count('delete', inner.delete(key)),
    withLock: (key, fn) => count('withLock', inner.withLock(key, fn)),
    available: true,
    replicated: true,
    dedupe,
    buckets,
  };
  return { store, calls };
}

/** The conversation engine over the counting store, with limits no test reaches. */
function countedEngine(store: ReturnType<typeof counting>['store'], logger: ReturnType<typeof silentLogger>) {
  return new ConversationEngine({
    search: createMemorySearchService(),
    state: store,
    buckets: store.buckets,
    logger,
    rateLimitPerMinute: 1000,
    maxConcurrent: 4,
    ttlMs: 60_000,
  });
}

describe('state-store round trips per Slack search', () => {
  let peer: SlackPeer;
  let adapter: SlackAdapter;
  let close: () => Promise<void>;
  let eventsUrl: string;
  const { store, calls } = counting(
    createStateStore({ url: 'memory://', dataDir: tempDir(), ttlMs: 60_000, logger: silentLogger() }),
  );

  beforeAll(async () => {
    peer = await startSlackPeer({ botToken: BOT_TOKEN, teamId: 'T111' });
    const logger = silentLogger();
    const engine = countedEngine(store, logger);
    adapter = createSlackAdapter({
      config: { botToken: BOT_TOKEN, signingSecret: SIGNING_SECRET, apiUrl: peer.apiUrl },
      handler: engine,
      logger,
      dedupe: store.dedupe,
      state: store,
      replicated: true,
    });
    const server = createHttpServer({ routes: adapter.routes, logger });
    const { url } = await server.listen(0, '127.0.0.1');
    eventsUrl = `${url}/slack/events`;
    await adapter.start();
    close = async () => {
      await adapter.stop();
      await server.close();
      await peer.close();
    };
  });
  afterAll(() => close());

  it('a fresh /imagesearch costs 5 round trips (it cost 8 before the one request flow)', async () => {
    const fields = {
      ...slackFixture<Record<string, string>>('slash_command_bolt_python.json'),
      command: '/imagesearch',
      text: 'cat on a beach',
      trigger_id: unique('trig.'),
      response_url: peer.responseUrl(unique('cmd')),
    };
    const res = await postSigned(eventsUrl, new URLSearchParams(fields).toString(), {
      secret: SIGNING_SECRET,
    });
    expect(res.status).toBe(200);
    await peer.waitFor(() => [...peer.uploads.values()].some((u) => u.completed), 5000);
    await peer.waitFor(() => adapter.inflight === 0, 5000);
    // The delivery claim, the result thread's record, the conversation lock, the rate take, the save.
    expect(calls.sort()).toEqual(['claim', 'set', 'set', 'take', 'withLock']);
  });
});

describe('state-store round trips per web chat search', () => {
  it('a fresh query with a request id costs 6 on a replicated store (it cost 7 before)', async () => {
    const { store, calls } = counting(
      createStateStore({ url: 'memory://', dataDir: tempDir(), ttlMs: 60_000, logger: silentLogger() }),
    );
    const logger = silentLogger();
    const engine = countedEngine(store, logger);
    const web = createWebAdapter({
      handler: engine,
      logger,
      dedupe: store.dedupe,
      state: store,
      replicated: true,
    });
    await web.start();
    const server = createHttpServer({ routes: web.routes, logger });
    const { url } = await server.listen(0, '127.0.0.1');
    try {
      const res = await fetch(`${url}/api/chat`, {
        method: 'POST',
        body: JSON.stringify({ text: 'cat on a beach', requestId: 'fresh-query-1' }),
        headers: { 'content-type': 'application/json' },
      });
      expect(((await res.json()) as { kind: string }).kind).toBe('results');
      // The delivery claim, the lock, two rate takes (the user's, the client address's), the save,
      // and the reply shared with other replicas (the web chat replays a repeat's first reply).
      expect(calls.sort()).toEqual(['claim', 'set', 'set', 'take', 'take', 'withLock']);
    } finally {
      await web.stop();
      await server.close();
    }
  });
});

/**
 * A stalled Redis (socket open, nothing answered): a real redis-server behind a TCP proxy the test
 * stalls and resumes. The store must stop writing into the dead path after its first timeout (what
 * the client wrote is counted by the proxy, so "memory stays flat" is a byte count, not a timing),
 * answer every user, come back to ready by its own probe with no traffic, and leave no stray lock.
 */
import { createClient } from '@keyv/redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BotReply } from '../../src/core/types.ts';
import { checkReadiness } from '../../src/metrics/routes.ts';
import { createStateStore, type ManagedStateStore } from '../../src/state/state-store.ts';
import { silentLogger } from '../../src/util/logger.ts';
import { conversationHarness } from '../support/conversation.ts';
import { tempDir } from '../support/fixtures.ts';
import { createMemorySearchService } from '../support/memory-search.ts';
import { type RedisHandle, redisServerInstalled, startRedis } from '../support/redis-server.ts';
import { type StallableProxy, startStallableProxy } from '../support/tcp-proxy.ts';

const installed = redisServerInstalled();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const mb = (bytes: number) => Math.round((bytes / 2 ** 20) * 10) / 10;

describe.skipIf(!installed)('Redis stalled behind a proxy (real redis-server)', () => {
  let redis: RedisHandle;
  let proxy: StallableProxy;
  let state: ManagedStateStore;

  beforeAll(async () => {
    redis = await startRedis();
    proxy = await startStallableProxy(redis.port);
    state = createStateStore({
      url: `redis://127.0.0.1:${proxy.port}`,
      dataDir: tempDir(),
      ttlMs: 60_000,
      logger: silentLogger(),
      opTimeoutMs: 200,
    });
  });
  afterAll(async () => {
    await state?.close();
    await proxy?.close();
    await redis?.stop();
  });

  it('writes nothing more after the first timeout, answers everyone, is ready again with no traffic, leaves no lock', async () => {
    const deadline = Date.now() + 10_000;
    while (!state.available && Date.now() < deadline) await sleep(25);
    const { engine } = conversationHarness(createMemorySearchService(), { state });
    let seq = 0;
    const ask = (conversation: number, text: string, followUp = false) =>
      engine.handle({
        platform: 'web',
        conversationId: `web:stall${conversation}`,
        userId: `web:u${conversation}`,
        text,
        followUp,
        requestId: `r${++seq}`,
      });
    expect((await ask(0, 'beach')).kind).toBe('results');
    const rssBefore = process.memoryUsage().rss;
    // On a busy machine a 200 ms operation may have timed out already: start from a healthy store,
    // so the first wave really writes into the stalled link (its lock SETs are what must be released).
    while (!state.available) await sleep(25);

    proxy.stall();
    const replies: BotReply[] = [];
    // 300 searches in waves of 10 concurrent users.
    for (let wave = 0; wave < 30; wave++) {
      replies.push(
        ...(await Promise.all(
          Array.from({ length: 10 }, (_, i) => ask(i, i % 2 ? 'mountain' : '4 more', i % 2 === 0)),
        )),
      );
    }
    const rssDuring = process.memoryUsage().rss;
    // Every user got results or a worded notice, never an exception.
    expect(replies).toHaveLength(300);
    for (const reply of replies) {
      expect(['results', 'notice']).toContain(reply.kind);
      expect(reply.text.length).toBeGreaterThan(0);
    }
    expect(state.available).toBe(false);
    const stateProblem = async () =>
      (await checkReadiness({ state })).problems.some((p) => p.includes('state store is unreachable'));
    expect(await stateProblem()).toBe(true);
    // Only the first wave's commands (and the probe's PINGs) went into the dead path. Before, every
    // search wrote its claim, bucket, lock and conversation: hundreds of kilobytes here.
    const written = proxy.bytesFromClientsSinceStall;
    expect(written).toBeLessThan(16 * 1024);

    proxy.resume();
    const resumedAt = Date.now();
    // No traffic: readiness must come back from the probe alone.
    while (!state.available && Date.now() - resumedAt < 5000) await sleep(25);
    const secondsToReady = (Date.now() - resumedAt) / 1000;
    expect(state.available).toBe(true);
    expect(await stateProblem()).toBe(false);

    // The lock SETs that timed out reached Redis when the link healed; each was released right after.
    const direct = createClient({ url: redis.url });
    await direct.connect();
    try {
      expect(await direct.keys('imagesearch:lock:*')).toEqual([]);
    } finally {
      await direct.close();
    }
    expect((await ask(1, 'forest')).kind).toBe('results');
    const rssAfter = process.memoryUsage().rss;
    console.info(
      `stall figures: RSS before ${mb(rssBefore)} MB, during ${mb(rssDuring)} MB, after ${mb(rssAfter)} MB; ` +
        `${written} bytes written into the stalled link over 300 searches; ready ${secondsToReady} s after Redis answered`,
    );
  }, 60_000);
});

/**
 * Figures for the stalled-Redis case (issue 22), outside the test runner so RSS is this process's
 * alone: a real redis-server behind a stallable proxy, N searches through the conversation engine
 * while it is stalled, RSS (after a full GC) before, during and after, and the seconds readiness
 * takes to return once Redis answers, with no traffic.
 *
 *   node --expose-gc --import tsx test/support/redis-stall-rss.ts [searches] [--healthy]
 */
import { createStateStore } from '../../src/state/state-store.ts';
import { silentLogger } from '../../src/util/logger.ts';
import { conversationHarness } from './conversation.ts';
import { tempDir } from './fixtures.ts';
import { createMemorySearchService } from './memory-search.ts';
import { startRedis } from './redis-server.ts';
import { startStallableProxy } from './tcp-proxy.ts';

const searches = Number(process.argv[2] ?? 2000);
/** `--healthy`: the same searches with Redis answering, as the baseline. */
const stall = !process.argv.includes('--healthy');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const rssMb = () => {
  (globalThis as { gc?: () => void }).gc?.();
  return Math.round((process.memoryUsage().rss / 2 ** 20) * 10) / 10;
};

const redis = await startRedis();
const proxy = await startStallableProxy(redis.port);
const state = createStateStore({
  url: `redis://127.0.0.1:${proxy.port}`,
  dataDir: tempDir(),
  ttlMs: 60_000,
  logger: silentLogger(),
});
try {
  while (!state.available) await sleep(25);
  const { engine } = conversationHarness(createMemorySearchService(), { state });
  let seq = 0;
  const ask = (i: number) =>
    engine.handle({
      platform: 'web',
      conversationId: `web:rss${i % 50}`,
      userId: `web:u${i % 50}`,
      text: 'mountain lake',
      requestId: `r${++seq}`,
    });
  for (let i = 0; i < 50; i++) await ask(i);
  const before = rssMb();
  if (stall) proxy.stall();
  for (let i = 0; i < searches; i += 10) await Promise.all(Array.from({ length: 10 }, (_, j) => ask(i + j)));
  const during = rssMb();
  const written = proxy.bytesFromClientsSinceStall;
  proxy.resume();
  const resumed = Date.now();
  while (!state.available && Date.now() - resumed < 60_000) await sleep(10);
  const readyAfter = (Date.now() - resumed) / 1000;
  await sleep(2000);
  const after = rssMb();
  console.log(
    JSON.stringify({
      searches,
      rssMb: { before, during, after },
      bytesWrittenDuringStall: written,
      readyAfterS: readyAfter,
    }),
  );
} finally {
  await state.close();
  await proxy.close();
  await redis.stop();
}

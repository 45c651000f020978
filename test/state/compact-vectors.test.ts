/**
 * Conversations store their vectors compactly (base64 float32 instead of JSON numbers), losslessly,
 * in both real backends; the figure in docs/operations.md (bytes per conversation) comes from here:
 * `npx vitest run test/state/compact-vectors.test.ts` prints it.
 */
import path from 'node:path';
import { createClient } from '@keyv/redis';
import KeyvSqlite from '@keyv/sqlite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { conversationKey, newConversation } from '../../src/conversation/conversation-state.ts';
import { compactVectors, expandVectors } from '../../src/state/compact-vectors.ts';
import { createStateStore, type ManagedStateStore } from '../../src/state/state-store.ts';
import { silentLogger } from '../../src/util/logger.ts';
import { tempDir } from '../support/fixtures.ts';
import { type RedisHandle, redisServerInstalled, startRedis } from '../support/redis-server.ts';

/** A unit 512-d float32 vector, as CLIP gives, as the engine keeps it (a number array). */
function clipVector(seed: number): number[] {
  const v = new Float32Array(512);
  let s = seed;
  for (let i = 0; i < v.length; i++) {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    v[i] = s / 2 ** 31 - 0.5;
  }
  const norm = Math.hypot(...v);
  return Array.from(v.map((x) => x / norm));
}

/** A web conversation after an image search and "more like 2": both vectors, 8 shown ids, 4 picks. */
function conversation() {
  const ids = Array.from({ length: 8 }, (_, i) => `photo-${i}-Abc123xyZ`);
  return {
    ...newConversation('web:0123456789abcdefghijkl', 1_700_000_000_000),
    original: 'cats on a sofa',
    queryText: 'cats on a sofa',
    anchor: clipVector(1),
    anchorLabel: 'more like #2',
    vector: clipVector(2),
    shownIds: ids,
    lastPicks: ids.slice(4).map((id, i) => ({ id, score: 0.31 - i / 100 })),
  };
}

/** The bytes the same value took before: keyv's JSON of `{ value, expires }`. */
const plainBytes = (value: unknown) =>
  Buffer.byteLength(JSON.stringify({ value, expires: 1_700_000_000_000 }));

const figures: string[] = [];
afterAll(() => {
  if (figures.length) console.info(`bytes per web conversation: ${figures.join('; ')}`);
});

describe('compact vectors', () => {
  it('round-trips exactly and leaves other values alone', () => {
    const conv = conversation();
    const compact = compactVectors(conv) as Record<string, unknown>;
    expect(compact.vector).toEqual({ $f32: expect.any(String) });
    expect(expandVectors(JSON.parse(JSON.stringify(compact)))).toEqual(conv);
    // Not float32, or too short to matter: kept as written.
    const other = { scores: [0.1, 0.2], long: Array.from({ length: 20 }, () => 0.1), words: ['a'] };
    expect(compactVectors(other)).toEqual(other);
  });

  it('SQLite: a conversation takes under 40 % of its plain JSON size', async () => {
    const dataDir = tempDir();
    const store = createStateStore({ dataDir, ttlMs: 60_000, logger: silentLogger() });
    const conv = conversation();
    await store.set(conversationKey('web:measure'), conv);
    expect(await store.get(conversationKey('web:measure'))).toEqual(conv);
    await store.close();
    const raw = new KeyvSqlite({ uri: `sqlite://${path.join(dataDir, 'state.sqlite')}` });
    const rows = (await raw.query(
      "SELECT length(value) AS n FROM keyv WHERE key LIKE '%conv:web:measure'",
    )) as {
      n: number;
    }[];
    await raw.disconnect();
    const bytes = rows[0]?.n ?? 0;
    figures.push(`SQLite ${bytes} B (plain JSON ${plainBytes(conv)} B)`);
    expect(bytes).toBeGreaterThan(0);
    expect(bytes).toBeLessThan(0.4 * plainBytes(conv));
  });

  describe.skipIf(!redisServerInstalled())('Redis', () => {
    let redis: RedisHandle;
    let store: ManagedStateStore;
    beforeAll(async () => {
      redis = await startRedis();
      store = createStateStore({ url: redis.url, dataDir: tempDir(), ttlMs: 60_000, logger: silentLogger() });
    });
    afterAll(async () => {
      await store?.close();
      await redis?.stop();
    });

    it('a conversation takes under 40 % of its plain JSON size', async () => {
      const deadline = Date.now() + 10_000;
      while (!store.available && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
      const conv = conversation();
      await store.set(conversationKey('web:measure'), conv);
      expect(await store.get(conversationKey('web:measure'))).toEqual(conv);
      const direct = createClient({ url: redis.url });
      await direct.connect();
      const [key] = await direct.keys('*conv:web:measure');
      const bytes = await direct.strLen(key!);
      const memory = await direct.memoryUsage(key!);
      await direct.close();
      figures.push(`Redis ${bytes} B value, ${memory} B MEMORY USAGE (plain JSON ${plainBytes(conv)} B)`);
      expect(bytes).toBeLessThan(0.4 * plainBytes(conv));
    });
  });
});

/**
 * The atomic operations replicas share, one backend at a time and without the store around them:
 * set-if-absent with a TTL (Dedupe) and GCRA buckets (RateBuckets) in Redis and in SQLite. Each is
 * checked against the shared arithmetic (gcraStep) and raced from several clients or processes.
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { promisify } from 'node:util';
import { createClient } from '@keyv/redis';
import KeyvSqlite from '@keyv/sqlite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gcraStep } from '../../src/state/rate-limit.ts';
import {
  REDIS_BUCKET_PREFIX,
  REDIS_CLAIM_PREFIX,
  RedisBuckets,
  RedisDedupe,
} from '../../src/state/redis-atomic.ts';
import { SqliteAtomic } from '../../src/state/sqlite-atomic.ts';
import { REPO_ROOT, tempDir } from '../support/fixtures.ts';
import { type RedisHandle, redisServerInstalled, startRedis } from '../support/redis-server.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const run = promisify(execFile);

/** The outcomes gcraStep predicts for `times` takes at the given instants. */
function predicted(times: number[], perMinute: number): boolean[] {
  let tat: number | undefined;
  return times.map((t) => {
    const step = gcraStep(tat, t, perMinute);
    if (step.ok) tat = step.tat;
    return step.ok;
  });
}
const INSTANTS = [0, 0, 0, 0, 0, 1000, 11_999, 12_000, 12_001, 30_000, 30_000, 200_000];

function openSqlite(file = path.join(tempDir(), 'state.sqlite')) {
  const store = new KeyvSqlite({ uri: `sqlite://${file}`, busyTimeout: 2000 });
  let t = 1_000_000;
  const atomic = new SqliteAtomic(
    (sql, params) => store.query(sql, params),
    () => t,
  );
  return {
    atomic,
    file,
    at: (ms: number) => {
      t = 1_000_000 + ms;
    },
    close: () => store.disconnect(),
  };
}

describe('SQLite atomic operations', () => {
  it('claim: the first wins, repeats lose until the TTL passes, then the key is taken over', async () => {
    const db = openSqlite();
    expect(await db.atomic.claim('k', 1000)).toBe(true);
    expect(await db.atomic.claim('k', 1000)).toBe(false);
    expect(await db.atomic.claim('other', 1000)).toBe(true);
    db.at(999);
    expect(await db.atomic.claim('k', 1000)).toBe(false);
    db.at(1000);
    expect(await db.atomic.claim('k', 1000)).toBe(true);
    expect(await db.atomic.claim('k', 1000)).toBe(false);
    await db.close();
  });

  it('buckets follow the GCRA arithmetic, with the wait when refused', async () => {
    const db = openSqlite();
    const got: boolean[] = [];
    for (const t of INSTANTS) {
      db.at(t);
      got.push((await db.atomic.take('u', 5)).ok);
    }
    expect(got).toEqual(predicted(INSTANTS, 5));
    db.at(0);
    const fresh = openSqlite();
    for (let i = 0; i < 5; i++) await fresh.atomic.take('v', 5);
    expect(await fresh.atomic.take('v', 5)).toEqual({ ok: false, retryAfterMs: 12_000 });
    await Promise.all([db.close(), fresh.close()]);
  });

  it('prune deletes expired claims and refilled buckets, nothing else', async () => {
    const db = openSqlite();
    await db.atomic.claim('short', 100);
    await db.atomic.claim('long', 10_000);
    await db.atomic.take('slow', 1); // full again after 60 s
    await db.atomic.take('fast', 60); // full again after 1 s
    expect(await db.atomic.count()).toEqual({ claims: 2, buckets: 2 });
    db.at(5000);
    await db.atomic.prune();
    expect(await db.atomic.count()).toEqual({ claims: 1, buckets: 1 });
    expect(await db.atomic.claim('long', 10_000)).toBe(false);
    expect((await db.atomic.take('slow', 1)).ok).toBe(false);
    await db.close();
  });

  it('several processes on one file: every key claimed exactly once, the bucket never overdrawn', async () => {
    const file = path.join(tempDir(), 'shared.sqlite');
    const prepared = openSqlite(file);
    await prepared.atomic.count(); // tables exist before the race
    await prepared.close();
    const worker = path.join(REPO_ROOT, 'test', 'state', 'support', 'sqlite-atomic-worker.ts');
    const outputs = await Promise.all(
      [1, 2].map(() =>
        run(process.execPath, ['--import', 'tsx', worker, file, '40', '15'], {
          cwd: REPO_ROOT,
          timeout: 60_000,
        }),
      ),
    );
    const results = outputs.map((o) => JSON.parse(o.stdout) as { claimed: string[]; allowed: number });
    const claimed = results.flatMap((r) => r.claimed);
    expect(claimed).toHaveLength(40);
    expect(new Set(claimed).size).toBe(40);
    expect(results.reduce((n, r) => n + r.allowed, 0)).toBe(10);
  });
});

const installed = redisServerInstalled();
const sharedUrl = process.env.TEST_REDIS_URL;
if (!installed && !sharedUrl)
  console.warn('redis-server is not installed and TEST_REDIS_URL is unset: skipping the Redis atomic tests');

describe.skipIf(!installed && !sharedUrl)('Redis atomic operations', () => {
  let redis: RedisHandle | undefined;
  const clients: { destroy(): void }[] = [];
  const prefix = `atomic-test:${randomUUID()}:`;

  async function client() {
    const c = createClient({ url: sharedUrl ?? redis?.url ?? '' });
    await c.connect();
    clients.push(c);
    return c;
  }

  beforeAll(async () => {
    if (!sharedUrl) redis = await startRedis();
  });
  afterAll(async () => {
    // destroy, not close: close waits for every pending reply, and a broken command (a mutant's
    // empty one) never gets one; the tests are over, nothing is left to wait for.
    for (const c of clients) c.destroy();
    await redis?.stop();
  });

  it('claim is SET NX PX: the first wins, repeats lose until the key expires', async () => {
    const dedupe = new RedisDedupe(await client());
    const key = `${prefix}claim`;
    expect(await dedupe.claim(key, 150)).toBe(true);
    expect(await dedupe.claim(key, 150)).toBe(false);
    await sleep(200);
    expect(await dedupe.claim(key, 150)).toBe(true);
  });

  it('two replicas racing for the same keys: each key won exactly once', async () => {
    const [a, b] = [new RedisDedupe(await client()), new RedisDedupe(await client())];
    const keys = Array.from({ length: 25 }, (_, i) => `${prefix}race-${i}`);
    const wins = await Promise.all(keys.flatMap((k) => [a.claim(k, 60_000), b.claim(k, 60_000)]));
    expect(wins.filter(Boolean)).toHaveLength(25);
    // Each claim lives its full minute (a shorter lease would let a platform retry run twice).
    const ttl = Number(await (await client()).sendCommand(['PTTL', `${REDIS_CLAIM_PREFIX}${keys[0]}`]));
    expect(ttl).toBeGreaterThan(55_000);
    expect(ttl).toBeLessThanOrEqual(60_000);
  });

  it('buckets follow the GCRA arithmetic; a bucket key lives until it has refilled', async () => {
    const c = await client();
    let t = 5_000_000;
    const buckets = new RedisBuckets(c, () => t);
    const got: boolean[] = [];
    for (const at of INSTANTS) {
      t = 5_000_000 + at;
      got.push((await buckets.take(`${prefix}gcra`, 5)).ok);
    }
    expect(got).toEqual(predicted(INSTANTS, 5));

    t = 5_000_000;
    for (let i = 0; i < 5; i++) await buckets.take(`${prefix}wait`, 5);
    expect(await buckets.take(`${prefix}wait`, 5)).toEqual({ ok: false, retryAfterMs: 12_000 });
    const ttl = Number(await c.sendCommand(['PTTL', `${REDIS_BUCKET_PREFIX}${prefix}wait`]));
    expect(ttl).toBeGreaterThan(59_000);
    expect(ttl).toBeLessThanOrEqual(60_000);
    await buckets.take(`${prefix}quick`, 600); // full again after 100 ms
    await sleep(150);
    expect(Number(await c.sendCommand(['EXISTS', `${REDIS_BUCKET_PREFIX}${prefix}quick`]))).toBe(0);
  });

  it('two replicas drawing from one bucket never overdraw it', async () => {
    const [a, b] = [new RedisBuckets(await client()), new RedisBuckets(await client())];
    const key = `${prefix}shared-bucket`;
    const decisions = await Promise.all(Array.from({ length: 30 }, (_, i) => (i % 2 ? a : b).take(key, 10)));
    expect(decisions.filter((d) => d.ok)).toHaveLength(10);
  });
});

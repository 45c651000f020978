import path from 'node:path';
import KeyvSqlite from '@keyv/sqlite';
import { describe, expect, it } from 'vitest';
import { createStateStore } from '../../src/state/state-store.ts';
import { silentLogger } from '../../src/util/logger.ts';
import { tempDir } from '../support/fixtures.ts';

const open = (dataDir: string, ttlMs = 60_000) =>
  createStateStore({ dataDir, ttlMs, logger: silentLogger() });

describe('SQLite state store (default)', () => {
  it('stores JSON values under <dataDir>/state.sqlite and keeps them across a restart', async () => {
    const dir = tempDir();
    const a = open(dir);
    expect(a.backend).toBe('sqlite');
    await a.set('conv:web:s1', { original: 'cats', vector: [0.1, -0.2], shown: ['a', 'b'] });
    expect(await a.get('conv:web:s1')).toEqual({ original: 'cats', vector: [0.1, -0.2], shown: ['a', 'b'] });
    await a.close();

    const b = open(dir);
    expect(await b.get('conv:web:s1')).toEqual({ original: 'cats', vector: [0.1, -0.2], shown: ['a', 'b'] });
    await b.delete('conv:web:s1');
    expect(await b.get('conv:web:s1')).toBeUndefined();
    await b.close();
    const { existsSync } = await import('node:fs');
    expect(existsSync(path.join(dir, 'state.sqlite'))).toBe(true);
  });

  it('keeps the file in WAL mode, so a write is not an fsync and readers never wait', async () => {
    const dir = tempDir();
    const store = open(dir);
    await store.set('k', 1);
    expect(await store.dedupe.claim('first-write-after-tuning', 1000)).toBe(true);
    await store.close();
    const raw = new KeyvSqlite({ uri: `sqlite://${path.join(dir, 'state.sqlite')}` });
    expect(await raw.query('PRAGMA journal_mode')).toEqual([{ journal_mode: 'wal' }]);
    await raw.disconnect();
  });

  it('honours the TTL (default and per entry)', async () => {
    const store = open(tempDir(), 40);
    await store.set('short', 1);
    await store.set('long', 2, 60_000);
    await new Promise((r) => setTimeout(r, 70));
    expect(await store.get('short')).toBeUndefined();
    expect(await store.get('long')).toBe(2);
    await store.close();
  });

  it('sqlite:// URLs pick the file', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'nested', 'custom.sqlite');
    const store = createStateStore({
      url: `sqlite://${file}`,
      dataDir: dir,
      ttlMs: 1000,
      logger: silentLogger(),
    });
    await store.set('k', 'v');
    expect(await store.get('k')).toBe('v');
    await store.close();
  });

  it('rejects unknown STATE_URL schemes with a config error', () => {
    expect(() =>
      createStateStore({ url: 'mongodb://x', dataDir: tempDir(), ttlMs: 1, logger: silentLogger() }),
    ).toThrow(/STATE_URL/);
  });

  it('withLock serialises read-modify-write on one key (no lost updates)', async () => {
    const store = open(tempDir());
    await store.set('counter', 0);
    await Promise.all(
      Array.from({ length: 20 }, () =>
        store.withLock('counter', async () => {
          const n = (await store.get<number>('counter')) ?? 0;
          await new Promise((r) => setTimeout(r, 2));
          await store.set('counter', n + 1);
        }),
      ),
    );
    expect(await store.get('counter')).toBe(20);
    await store.close();
  });

  it('withLock on different keys runs in parallel', async () => {
    const store = open(tempDir());
    const started = Date.now();
    await Promise.all(
      ['a', 'b', 'c'].map((k) => store.withLock(k, () => new Promise((r) => setTimeout(r, 100)))),
    );
    expect(Date.now() - started).toBeLessThan(250);
    await store.close();
  });
});

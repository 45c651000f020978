import { describe, expect, it } from 'vitest';
import { ThreadRegistry } from '../../adapters/slack/thread-registry.ts';
import type { StateStore } from '../../src/core/types.ts';
import { createStateStore } from '../../src/state/state-store.ts';
import { silentLogger } from '../../src/util/logger.ts';
import { tempDir } from '../support/fixtures.ts';

const shared = () =>
  createStateStore({ url: 'memory://', dataDir: tempDir(), ttlMs: 60_000, logger: silentLogger() });

describe('Slack result-thread registry', () => {
  it('a thread one replica answered in is recognised by another sharing the store', async () => {
    const state = shared();
    const a = new ThreadRegistry({ state, ttlMs: 60_000 });
    const b = new ThreadRegistry({ state, ttlMs: 60_000 });
    await a.add('C1', '1700000000.000100');
    expect(await b.has('C1', '1700000000.000100')).toBe(true);
    expect(await b.has('C1', '1700000000.000200')).toBe(false);
    expect(await b.has('C2', '1700000000.000100')).toBe(false);
  });

  it('without a store it is the process own; with a failing store, the threads it saw stay known', async () => {
    const alone = [new ThreadRegistry({ ttlMs: 60_000 }), new ThreadRegistry({ ttlMs: 60_000 })];
    await alone[0]?.add('C1', '1.1');
    expect(await alone[1]?.has('C1', '1.1')).toBe(false);

    const failing: StateStore = {
      get: () => Promise.reject(new Error('down')),
      set: () => Promise.reject(new Error('down')),
      delete: () => Promise.reject(new Error('down')),
      withLock: (_k, fn) => fn(),
    };
    const registry = new ThreadRegistry({ state: failing, ttlMs: 60_000 });
    await registry.add('C1', '2.2');
    expect(await registry.has('C1', '2.2')).toBe(true);
    expect(await registry.has('C1', '3.3')).toBe(false);
  });

  it('keeps a thread as long as its conversation (the TTL it is given)', async () => {
    const state = shared();
    await new ThreadRegistry({ state, ttlMs: 1000 }).add('C1', '4.4');
    const other = new ThreadRegistry({ state, ttlMs: 1000 });
    expect(await other.has('C1', '4.4')).toBe(true);
    await new Promise((r) => setTimeout(r, 1100));
    expect(await new ThreadRegistry({ state, ttlMs: 1000 }).has('C1', '4.4')).toBe(false);
  });
});

/**
 * What the engine saves for a conversation kept only briefly (`retainMs`: a web session's first
 * turn, before the browser has shown it keeps the cookie) and for one kept the usual time, and
 * which requests skip reading the conversation first (a new search replaces it unread).
 */
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { MSG } from '../../src/conversation/messages.ts';
import type { StateStore } from '../../src/core/types.ts';
import { createStateStore } from '../../src/state/state-store.ts';
import { silentLogger } from '../../src/util/logger.ts';
import { conversationHarness, results } from '../support/conversation.ts';
import { tempDir } from '../support/fixtures.ts';
import { createMemorySearchService } from '../support/memory-search.ts';

/** A memory state store that records each write's key and lifetime and each read's key. */
function recordingState() {
  const inner = createStateStore({
    url: 'memory://',
    dataDir: tempDir(),
    ttlMs: 60_000,
    logger: silentLogger(),
  });
  const writes: Array<{ key: string; ttlMs: number | undefined }> = [];
  const reads: string[] = [];
  const state: StateStore = Object.assign(Object.create(inner) as StateStore, {
    async get<T>(key: string) {
      reads.push(key);
      return inner.get<T>(key);
    },
    async set<T>(key: string, value: T, ttlMs?: number) {
      writes.push({ key, ttlMs });
      return inner.set(key, value, ttlMs);
    },
  });
  return { state, writes, reads };
}

const conversationWrites = (writes: Array<{ key: string; ttlMs: number | undefined }>) =>
  writes.filter((w) => w.key.includes('web:s1'));

describe('conversation lifetime', () => {
  it('a first turn kept briefly is saved with results, for that long', async () => {
    const rec = recordingState();
    const { ask, load } = conversationHarness(undefined, { state: rec.state });
    results(await ask('cat', { retainMs: 3_600_000 }));
    expect(conversationWrites(rec.writes).map((w) => w.ttlMs)).toEqual([3_600_000]);
    expect((await load())?.lastPicks).toHaveLength(4);
  });

  it('…and not at all without results, or when the address has had its share (retainMs 0)', async () => {
    const empty = recordingState();
    const none = conversationHarness(createMemorySearchService({ size: 0 }), { state: empty.state });
    const reply = await none.ask('cat', { retainMs: 3_600_000 });
    expect(reply.kind).not.toBe('results');
    expect(conversationWrites(empty.writes)).toEqual([]);

    const spent = recordingState();
    const full = conversationHarness(undefined, { state: spent.state });
    results(await full.ask('cat', { retainMs: 0 }));
    expect(conversationWrites(spent.writes)).toEqual([]);
    expect(await full.load()).toBeUndefined();
  });

  it('a conversation without retainMs is saved for the configured lifetime, results or not', async () => {
    const rec = recordingState();
    const none = conversationHarness(createMemorySearchService({ size: 0 }), {
      state: rec.state,
      ttlMs: 90_000,
    });
    await none.ask('cat');
    expect(conversationWrites(rec.writes).map((w) => w.ttlMs)).toEqual([90_000]);
  });

  it('a new search, an image or "start over" replaces the conversation unread; a refinement reads it', async () => {
    const rec = recordingState();
    const { ask } = conversationHarness(undefined, { state: rec.state });
    const convReads = () => rec.reads.filter((k) => k.includes('web:s1')).length;
    results(await ask('cat'));
    expect(convReads()).toBe(0);
    results(await ask('more like 2', { followUp: true }));
    expect(convReads()).toBe(1);
    await ask('start over', { followUp: true });
    expect(convReads()).toBe(1);
    results(await ask('new: dogs', { followUp: true }));
    expect(convReads()).toBe(1);
    const png = await sharp({ create: { width: 8, height: 8, channels: 3, background: '#3366cc' } })
      .png()
      .toBuffer();
    results(await ask(undefined, { image: { bytes: png, mime: 'image/png' }, followUp: true }));
    expect(convReads()).toBe(1);
  });

  it('a thread with nothing left to search for (only negatives) is asked for words, and searches nothing', async () => {
    const { ask, search } = conversationHarness();
    expect(await ask('without dogs')).toMatchObject({ kind: 'notice', text: MSG.empty });
    results(await ask('cats'));
    expect(await ask('start over', { followUp: true })).toMatchObject({ kind: 'notice' });
    expect(await ask('without dogs', { followUp: true })).toMatchObject({ kind: 'notice', text: MSG.empty });
    expect(search.queries).toHaveLength(1);
  });
});

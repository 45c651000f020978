import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import type { ConversationEngineOptions } from '../../src/conversation/engine.ts';
import { MSG } from '../../src/conversation/messages.ts';
import { resultActions } from '../../src/core/actions.ts';
import type { BotReply, QueryRewriter, SearchRequest, StateStore } from '../../src/core/types.ts';
import { cosine } from '../../src/search/query-vector.ts';
import { conversationHarness, results } from '../support/conversation.ts';
import { testEngines } from '../support/engines.ts';
import { createMemorySearchService, type MemorySearchOptions } from '../support/memory-search.ts';

function setupWith(over: Partial<ConversationEngineOptions> = {}, searchOpts: MemorySearchOptions = {}) {
  return conversationHarness(createMemorySearchService(searchOpts), over);
}

const ids = (reply: BotReply) => results(reply).reply.picks.map((p) => p.id);

// Every conversation behaviour on plain arrays and on each index engine: the engine must never change
// the answer format, the junk floor, exclusions ("4 more") or the refinement arithmetic.
describe.each(testEngines())('conversation engine (index: %s)', (engine) => {
  const setup = (over: Partial<ConversationEngineOptions> = {}, searchOpts: MemorySearchOptions = {}) =>
    setupWith(over, { ...searchOpts, ...(engine ? { engine } : {}) });

  it('a new query answers with 4 picks, the standard buttons, and remembers the conversation', async () => {
    const { ask, load } = setup();
    const r = results(await ask('cat on a beach'));
    expect(r.reply.picks).toHaveLength(4);
    expect(r.actions).toEqual(resultActions(4));
    expect(r.reply.grid.subarray(0, 2)).toEqual(Buffer.from([0xff, 0xd8]));
    const conv = await load();
    expect(conv).toMatchObject({
      original: 'cat on a beach',
      queryText: 'cat on a beach',
      ownerId: 'web:u1',
    });
    expect(conv?.lastPicks.map((p) => p.id)).toEqual(ids(r));
    expect(conv?.shownIds).toEqual(ids(r));
    expect(conv?.vector).toHaveLength(32);
  });

  it('"4 more" (typed or button) shows the next 4 not yet shown, reusing the stored vector', async () => {
    const { ask, load, search } = setup();
    const first = ids(await ask('dog'));
    const second = ids(await ask('4 more', { followUp: true }));
    const third = ids(await ask(undefined, { action: { type: 'next' } }));
    const all = [...first, ...second, ...third];
    expect(new Set(all).size).toBe(12);
    expect((await load())?.shownIds).toEqual(all);
    expect(search.vectors[2]).toEqual(search.vectors[1]);
    expect(search.queries[2]?.vector).toEqual(search.vectors[1]);
  });

  it('"more like N" moves the query to image N, blended with the text, and never repeats', async () => {
    const { ask, load, search } = setup();
    const first = ids(await ask('city at night'));
    const target = first[1] ?? '';
    const second = ids(await ask('more like 2', { followUp: true }));
    expect(second.some((id) => first.includes(id))).toBe(false);
    const conv = await load();
    expect(conv?.anchorLabel).toBe('more like #2');
    const q0 = search.vectors[0];
    const q1 = search.vectors[1];
    const img = await search.getVector(target);
    if (!q0 || !q1 || !img) throw new Error('missing vectors');
    expect(cosine(q1, img)).toBeGreaterThan(cosine(q0, img));
    expect(cosine(q1, img)).toBeGreaterThan(0.9);
    const third = ids(await ask(undefined, { action: { type: 'more-like', n: 1 } }));
    expect(third.some((id) => first.includes(id) || second.includes(id))).toBe(false);
  });

  it('"N" / "open N" / the button answer with that pick full size, credit and link', async () => {
    const { ask } = setup();
    const first = ids(await ask('flower'));
    for (const reply of [
      await ask('2', { followUp: true }),
      await ask('open 2', { followUp: true }),
      await ask(undefined, { action: { type: 'open', n: 2 } }),
    ]) {
      if (reply.kind !== 'open') throw new Error(`expected open, got ${reply.kind}`);
      expect(reply.pick.id).toBe(first[1]);
      expect(reply.pick.n).toBe(2);
      expect(reply.text).toContain('Photo by Photographer');
      expect(reply.text).toContain(`https://example.test/photos/${first[1]}`);
      expect(reply.image?.mime).toBe('image/jpeg');
      expect(reply.image?.fileName).toMatch(/\.jpg$/);
    }
  });

  it('"open N" shows a link only when it is http(s): an index may carry any scheme', async () => {
    const { ask } = setup(
      {},
      {
        entry: (e) => ({
          ...e,
          pageUrl: 'javascript:alert(document.cookie)',
          url: 'file:///etc/passwd',
          credit: { name: 'Ana', url: 'HTTPS://example.test/@ana' },
        }),
      },
    );
    await ask('flower');
    const reply = await ask('open 1', { followUp: true });
    if (reply.kind !== 'open') throw new Error(`expected open, got ${reply.kind}`);
    expect(reply.text).not.toMatch(/javascript:|file:/);
    // The first http(s) link of the entry is the one shown.
    expect(reply.text).toContain('https://example.test/@ana');
  });

  it('refuses an image of more than 25 megapixels before decoding it, with a friendly notice', async () => {
    const { ask, search } = setup();
    // 6000 × 5000 = 30 MP of one colour: a few kilobytes of PNG, ~90 MB and most of a second to decode.
    const bomb = await sharp({ create: { width: 6000, height: 5000, channels: 3, background: '#777777' } })
      .png({ compressionLevel: 9 })
      .toBuffer();
    const before = search.queries.length;
    const reply = await ask(undefined, { image: { bytes: bomb, mime: 'image/png' } });
    expect(reply).toMatchObject({
      kind: 'notice',
      level: 'warn',
      text: expect.stringMatching(/too many pixels/),
    });
    expect(search.queries.length).toBe(before);
    // 24 MP is still welcome.
    const big = await sharp({ create: { width: 6000, height: 4000, channels: 3, background: '#777777' } })
      .jpeg()
      .toBuffer();
    expect((await ask(undefined, { image: { bytes: big, mime: 'image/jpeg' } })).kind).toBe('results');
  });

  it('a number beyond the grid gets a friendly notice', async () => {
    const { ask } = setup();
    await ask('flower');
    expect(await ask('open 7', { followUp: true })).toEqual({
      kind: 'notice',
      level: 'info',
      text: MSG.noSuchPick(7, 4),
    });
  });

  it('a text refinement without a rewriter merges deterministically', async () => {
    const { ask, load, search } = setup();
    await ask('cats on a sofa');
    const r = results(await ask('only black and white', { followUp: true }));
    expect(r.reply.query).toBe('cats on a sofa, black and white');
    expect(await load()).toMatchObject({ refinements: ['only black and white'], original: 'cats on a sofa' });
    expect(search.queries[1]?.text).toBe('cats on a sofa, black and white');
  });

  it('a text refinement uses the rewriter, and falls back to the merge when it is slow, empty or fails', async () => {
    const calls: Array<[string, string[]]> = [];
    const good: QueryRewriter = {
      rewrite: async (o, r) => {
        calls.push([o, r]);
        return 'black and white photo of cats on a sofa';
      },
    };
    const a = setup({ rewriter: good });
    await a.ask('cats on a sofa');
    expect(results(await a.ask('only black and white', { followUp: true })).reply.query).toBe(
      'black and white photo of cats on a sofa',
    );
    expect(calls).toEqual([['cats on a sofa', ['only black and white']]]);

    const slow: QueryRewriter = { rewrite: () => new Promise((r) => setTimeout(() => r('too late'), 2000)) };
    const b = setup({ rewriter: slow, rewriteTimeoutMs: 50 });
    await b.ask('cats');
    const started = Date.now();
    expect(results(await b.ask('at night', { followUp: true })).reply.query).toBe('cats, at night');
    expect(Date.now() - started).toBeLessThan(1000);

    for (const bad of [
      { rewrite: async () => undefined },
      { rewrite: async () => '  ' },
      { rewrite: async () => Promise.reject(new Error('503')) },
    ] satisfies QueryRewriter[]) {
      const c = setup({ rewriter: bad });
      await c.ask('cats');
      expect(results(await c.ask('at night', { followUp: true })).reply.query).toBe('cats, at night');
    }
  });

  it('"without X" / "no X" / "-X" subtract X from the query vector and keep the text clean', async () => {
    const { ask, load, search } = setup();
    await ask('cat dog');
    const r = results(await ask('without dog', { followUp: true }));
    expect(r.reply.query).toBe('cat dog, without dog');
    const conv = await load();
    expect(conv?.negatives).toEqual(['dog']);
    expect(conv?.queryText).toBe('cat dog');
    const dog = await search.embedText('dog');
    const before = search.vectors[0] ?? (await search.embedText('cat dog'));
    const after = search.vectors[1];
    if (!after) throw new Error('no vector');
    expect(cosine(after, dog)).toBeLessThan(cosine(before, dog) - 0.1);
    await ask('no people, -snow', { followUp: true });
    expect((await load())?.negatives).toEqual(['dog', 'people', 'snow']);
  });

  it('"without X" in a new query applies from the start', async () => {
    const { ask, load } = setup();
    const r = results(await ask('beach -people'));
    expect(r.reply.query).toBe('beach, without people');
    expect(await load()).toMatchObject({ original: 'beach', negatives: ['people'] });
  });

  it('"new: …" starts over in the same thread; a query without followUp also starts over', async () => {
    const { ask, load } = setup();
    await ask('cats');
    await ask('4 more', { followUp: true });
    await ask('new: mountain snow', { followUp: true });
    expect(await load()).toMatchObject({ original: 'mountain snow', refinements: [], negatives: [] });
    expect((await load())?.shownIds).toHaveLength(4);
    await ask('forest');
    expect(await load()).toMatchObject({ original: 'forest' });
  });

  it('start over clears the search; the next message in the thread is a new search', async () => {
    const { ask, load } = setup();
    await ask('cats');
    expect(await ask(undefined, { action: { type: 'start-over' } })).toMatchObject({ text: MSG.startOver });
    expect(await load()).toMatchObject({ original: '', shownIds: [] });
    expect(await ask('4 more', { followUp: true })).toMatchObject({ text: MSG.noSearchYet });
    const r = results(await ask('dogs', { followUp: true }));
    expect(r.reply.query).toBe('dogs');
  });

  it('help, empty, whitespace, emoji-only and huge queries get friendly answers', async () => {
    const { ask } = setup();
    expect(await ask('help')).toMatchObject({ kind: 'notice', text: expect.stringContaining('more like 2') });
    expect(await ask('')).toMatchObject({ kind: 'notice', text: MSG.empty });
    expect(await ask(undefined)).toMatchObject({ kind: 'notice', text: MSG.empty });
    expect(await ask('  \n ')).toMatchObject({ kind: 'notice', text: MSG.empty });
    expect(await ask('🐱🛋️')).toMatchObject({ kind: 'notice', text: MSG.emojiOnly });
    const huge = results(await ask(`cat ${'beach '.repeat(200)}`));
    expect(huge.text.startsWith(MSG.truncated(500))).toBe(true);
    expect(huge.reply.query.length).toBeLessThanOrEqual(500);
  });

  it('follow-ups on an unknown or expired conversation say so', async () => {
    const { ask } = setup();
    expect(await ask('at night', { followUp: true })).toMatchObject({ text: MSG.expired });
    expect(await ask(undefined, { action: { type: 'more-like', n: 2 } })).toMatchObject({
      text: MSG.expired,
    });
    expect(await ask('4 more')).toMatchObject({ text: MSG.noSearchYet });
  });

  it('expiry follows the TTL', async () => {
    const { ask } = setup({ ttlMs: 50 });
    await ask('cats');
    await new Promise((r) => setTimeout(r, 80));
    expect(await ask('2', { followUp: true })).toMatchObject({ text: MSG.expired });
  });

  it('says so when nothing new is left', async () => {
    const { ask } = setup({}, { size: 8 });
    await ask('cat');
    await ask('more', { followUp: true });
    expect(await ask('more', { followUp: true })).toMatchObject({ kind: 'notice', text: MSG.noMoreResults });
  });

  it('query by image goes through embedImage, skips the reranker; unreadable images get a notice', async () => {
    const { ask, search, load } = setup();
    const sharp = (await import('sharp')).default;
    const png = await sharp({ create: { width: 8, height: 8, channels: 3, background: '#3366cc' } })
      .png()
      .toBuffer();
    const r = results(await ask(undefined, { image: { bytes: png, mime: 'image/png' } }));
    expect(r.reply.query).toBe('images like yours');
    expect(search.queries[0]?.rerank).toBe(false);
    expect((await load())?.anchor).toHaveLength(32);
    const withCaption = results(await ask('at the beach', { image: { bytes: png } }));
    expect(withCaption.reply.query).toBe('at the beach (your image)');
    expect(await ask(undefined, { image: { bytes: Buffer.from('not an image') } })).toEqual({
      kind: 'notice',
      level: 'warn',
      text: MSG.imageUnreadable,
    });
  });

  it('rate limit per user gives a friendly notice', async () => {
    const { ask } = setup({ rateLimitPerMinute: 2 });
    await ask('cat');
    await ask('dog');
    const third = await ask('beach');
    expect(third).toMatchObject({ kind: 'notice', level: 'warn', ephemeral: true });
    expect(third.text).toMatch(/searching fast.*wait \d+ s/);
    // Another user is not affected.
    expect((await ask('beach', { userId: 'web:u2', conversationId: 'web:s2' })).kind).toBe('results');
  });

  it('too many concurrent searches get a "busy" notice', async () => {
    const { engine } = setup({ maxConcurrent: 1, maxQueue: 0 }, { delayMs: 150 });
    const req = (i: number): SearchRequest => ({
      platform: 'web',
      conversationId: `web:c${i}`,
      userId: `web:u${i}`,
      text: 'cat',
    });
    const [a, b] = await Promise.all([engine.handle(req(1)), engine.handle(req(2))]);
    expect(a.kind).toBe('results');
    expect(b).toMatchObject({ kind: 'notice', level: 'warn', text: expect.stringMatching(/busy/) });
  });

  it('errors inside become a short notice, never a throw', async () => {
    const { search, state } = setup();
    const broken = { ...search, search: async () => Promise.reject(new Error('disk on fire')) };
    const { engine } = conversationHarness(broken, { state });
    const r = await engine.handle({ platform: 'web', conversationId: 'web:x', userId: 'web:u', text: 'cat' });
    expect(r).toMatchObject({ kind: 'notice', level: 'error' });
    expect(r.text).not.toContain('disk on fire');
  });

  it('a state store that throws is survived (no memory)', async () => {
    const { search } = setup();
    const failing: StateStore = {
      get: async () => Promise.reject(new Error('down')),
      set: async () => Promise.reject(new Error('down')),
      delete: async () => Promise.reject(new Error('down')),
      withLock: (_k, fn) => fn(),
    };
    const { engine } = conversationHarness(search, { state: failing });
    const r = await engine.handle({ platform: 'web', conversationId: 'web:x', userId: 'web:u', text: 'cat' });
    expect(r.kind).toBe('results');
  });

  it('concurrent follow-ups in one thread are serialised: no lost updates, no repeats', async () => {
    const { ask, load } = setup({}, { delayMs: 20 });
    const first = ids(await ask('city'));
    const more = await Promise.all([1, 2, 3].map(() => ask('4 more', { followUp: true })));
    const all = [...first, ...more.flatMap(ids)];
    expect(new Set(all).size).toBe(16);
    expect((await load())?.shownIds).toHaveLength(16);
  });
});

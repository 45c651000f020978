/**
 * The conversation engine's less travelled paths: rate limits on an injected clock, the limiter's
 * options, notes without a caption, "open" / "more like" at the grid's edges, and what each outcome
 * tells the operator in the logs (a real pino logger writing into memory).
 */
import { describe, expect, it } from 'vitest';
import type { ConversationEngineOptions } from '../../src/conversation/engine.ts';
import { MSG } from '../../src/conversation/messages.ts';
import { ImageSearchError } from '../../src/core/errors.ts';
import type { SearchAction, SearchRequest, SearchService, StateStore } from '../../src/core/types.ts';
import { memoryLogger, parsedLines } from '../rerank/helpers.ts';
import { conversationHarness, results } from '../support/conversation.ts';
import { pngHeaderClaiming } from '../support/images.ts';
import { createMemorySearchService, type MemorySearchService } from '../support/memory-search.ts';

const BUSY = "I'm busy with other searches right now. Please try again in a moment.";
const INFO = 30;
const ERROR = 50;

function setup(
  over: Partial<ConversationEngineOptions> = {},
  wrap: (s: MemorySearchService) => SearchService = (s) => s,
) {
  const base = createMemorySearchService();
  const log = memoryLogger();
  const { engine, ask, load } = conversationHarness(wrap(base), { logger: log.logger, ...over });
  return { base, engine, ask, load: () => load(), logs: () => parsedLines(log.lines) };
}

/** A clock the test moves by hand. */
function manualClock(start = 1_000_000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

describe('conversation engine: rate limits', () => {
  it('runs on the injected clock: refused with the wait in whole seconds, allowed again once it passed', async () => {
    const clock = manualClock();
    const { ask } = setup({ rateLimitPerMinute: 2, now: clock.now });
    expect((await ask('cat')).kind).toBe('results');
    expect((await ask('dog')).kind).toBe('results');
    expect(await ask('beach')).toEqual({
      kind: 'notice',
      level: 'warn',
      text: MSG.rateLimited(30),
      ephemeral: true,
    });
    clock.advance(30_000);
    expect((await ask('beach')).kind).toBe('results');
  });

  it('the refusal is logged at info with the conversation, request, intent, code and the user', async () => {
    const clock = manualClock();
    const { ask, logs } = setup({ rateLimitPerMinute: 1, now: clock.now });
    await ask('cat');
    await ask('dog');
    expect(logs()).toContainEqual(
      expect.objectContaining({
        level: INFO,
        component: 'conversation',
        conversationId: 'web:s1',
        requestId: 'r2',
        intent: 'refine',
        code: 'rate_limited',
        msg: `${MSG.rateLimited(60)} (web:u1)`,
      }),
    );
  });

  it('one address gets 1.5 × the per-user limit, rounded up, across its users', async () => {
    const { engine } = setup({ rateLimitPerMinute: 2, now: manualClock().now });
    const from = (i: number): SearchRequest => ({
      platform: 'web',
      conversationId: `web:c${i}`,
      userId: `web:u${i}`,
      clientAddress: '203.0.113.7',
      text: 'cat',
    });
    for (const i of [1, 2, 3]) expect((await engine.handle(from(i))).kind).toBe('results');
    expect(await engine.handle(from(4))).toMatchObject({ kind: 'notice', ephemeral: true });
  });

  it('a query by image is charged once', async () => {
    const { ask } = setup({ rateLimitPerMinute: 2, now: manualClock().now });
    const png = await (await import('sharp'))
      .default({ create: { width: 8, height: 8, channels: 3, background: '#3366cc' } })
      .png()
      .toBuffer();
    expect((await ask(undefined, { image: { bytes: png, mime: 'image/png' } })).kind).toBe('results');
    expect((await ask('dog', { conversationId: 'web:s2' })).kind).toBe('results');
  });
});

describe('conversation engine: the search limiter', () => {
  /** Searches that wait until the test opens the gate. */
  function gated() {
    let open: () => void = () => undefined;
    const gate = new Promise<void>((r) => {
      open = r;
    });
    const wrap = (s: SearchService): SearchService => ({
      ...s,
      search: async (q, signal) => {
        await gate;
        return s.search(q, signal);
      },
    });
    return { wrap, open: () => open() };
  }
  const req = (i: number): SearchRequest => ({
    platform: 'web',
    conversationId: `web:c${i}`,
    userId: `web:u${i}`,
    text: 'cat',
  });

  it('a full queue answers "busy" at once, as a plain warning (not only to the user)', async () => {
    const g = gated();
    const { engine } = setup({ maxConcurrent: 1, maxQueue: 0 }, g.wrap);
    const first = engine.handle(req(1));
    const second = await engine.handle(req(2));
    g.open();
    expect(second).toEqual({ kind: 'notice', level: 'warn', text: BUSY });
    expect((await first).kind).toBe('results');
  });

  it('maxWaitMs bounds the wait for a slot', async () => {
    const g = gated();
    const { engine } = setup({ maxConcurrent: 1, maxWaitMs: 20 }, g.wrap);
    const first = engine.handle(req(1));
    // The slot frees long after the 20 ms wait (the default wait would still be holding on).
    const release = setTimeout(g.open, 500);
    const second = await engine.handle(req(2));
    expect(second).toEqual({ kind: 'notice', level: 'warn', text: BUSY });
    clearTimeout(release);
    g.open();
    expect((await first).kind).toBe('results');
  });
});

describe('conversation engine: answers', () => {
  it('only a term to leave out, no words: asks what to look for, without searching', async () => {
    const { ask, base } = setup();
    expect(await ask('-people')).toEqual({ kind: 'notice', level: 'info', text: MSG.empty });
    expect(base.queries).toHaveLength(0);
  });

  it('a reply without a caption is the notes alone', async () => {
    const { ask } = setup({ maxQueryChars: 10 }, (s) => ({
      ...s,
      search: async (q, signal) => ({ ...(await s.search(q, signal)), caption: '' }),
    }));
    expect(results(await ask('cats on a sofa by the window')).text).toBe(MSG.truncated(10));
  });

  it('words in a thread while memory is down: searched alone, and the user is told', async () => {
    const { base } = setup();
    // Down as the managed store reports it: it remembers nothing, never throws, and says it is unavailable.
    const down: StateStore & { available: boolean } = {
      available: false,
      get: async () => undefined,
      set: async () => undefined,
      delete: async () => undefined,
      withLock: (_k, fn) => fn(),
    };
    const { engine } = conversationHarness(base, { state: down });
    const r = results(
      await engine.handle({
        platform: 'web',
        conversationId: 'web:x',
        userId: 'web:u',
        text: 'cat',
        followUp: true,
      }),
    );
    expect(r.text.split('\n')[0]).toBe(MSG.noMemoryFresh);
  });

  it('words in a thread after "start over" start a search with nothing to explain', async () => {
    const { ask } = setup();
    await ask('cats');
    await ask(undefined, { action: { type: 'start-over' } });
    const r = results(await ask('dogs', { followUp: true }));
    expect(r.text).toBe(r.reply.caption);
  });

  it('"4 more" reuses the stored vector: the words are not encoded again', async () => {
    const encoded: string[] = [];
    const { ask } = setup({}, (s) => ({
      ...s,
      embedText: (t: string) => {
        encoded.push(t);
        return s.embedText(t);
      },
    }));
    await ask('dog');
    await ask('4 more', { followUp: true });
    await ask(undefined, { action: { type: 'next' } });
    expect(encoded).toEqual(['dog']);
  });

  it('the last tile of the grid can be opened; number 0 or one past the grid cannot', async () => {
    const { ask } = setup();
    const first = results(await ask('flower'));
    const last = await ask('open 4', { followUp: true });
    expect(last).toMatchObject({ kind: 'open', pick: { n: 4, id: first.reply.picks[3]?.id } });
    expect(await ask(undefined, { action: { type: 'open', n: 0 } })).toEqual({
      kind: 'notice',
      level: 'info',
      text: MSG.noSuchPick(0, 4),
    });
    expect(await ask(undefined, { action: { type: 'more-like', n: 5 } })).toEqual({
      kind: 'notice',
      level: 'info',
      text: MSG.noSuchPick(5, 4),
    });
  });

  it('the "more like N" button moves the search to that pick', async () => {
    const { ask, load } = setup();
    await ask('city');
    results(await ask(undefined, { action: { type: 'more-like', n: 3 } }));
    expect(await load()).toMatchObject({ anchorLabel: 'more like #3' });
  });
});

describe('conversation engine: what the operator sees', () => {
  it('each answered request is logged once with its conversation, intent, reply kind and time taken', async () => {
    const clock = manualClock();
    const { ask, logs } = setup({ now: clock.now }, (s) => ({
      ...s,
      search: async (q, signal) => {
        clock.advance(250);
        return s.search(q, signal);
      },
    }));
    await ask('cat');
    expect(logs().filter((l) => l.msg === 'handled')).toEqual([
      expect.objectContaining({
        level: INFO,
        component: 'conversation',
        conversationId: 'web:s1',
        intent: 'refine',
        reply: 'results',
        ms: 250,
      }),
    ]);
  });

  it('an unreadable image from the search core: the friendly notice, logged as such', async () => {
    const { ask, logs } = setup({}, (s) => ({
      ...s,
      search: () => Promise.reject(new ImageSearchError('image_invalid', 'Corrupt tile.')),
    }));
    expect(await ask('cat')).toEqual({ kind: 'notice', level: 'warn', text: MSG.imageUnreadable });
    expect(logs()).toContainEqual(
      expect.objectContaining({
        level: INFO,
        msg: 'unreadable image',
        conversationId: 'web:s1',
        requestId: 'r1',
        intent: 'refine',
        code: 'image_invalid',
        err: expect.objectContaining({ message: 'Corrupt tile.' }),
      }),
    );
  });

  it('an image too large is a rejected request in the logs', async () => {
    const { ask, logs } = setup();
    const reply = await ask(undefined, {
      image: { bytes: pngHeaderClaiming(20_000, 20_000), mime: 'image/png' },
    });
    expect(reply).toMatchObject({
      kind: 'notice',
      level: 'warn',
      text: expect.stringMatching(/too many pixels/),
    });
    expect(logs()).toContainEqual(
      expect.objectContaining({
        level: INFO,
        msg: 'rejected request',
        intent: 'image',
        code: 'image_too_large',
      }),
    );
  });

  it('an unexpected failure is logged as an error with its cause; the user gets a short notice', async () => {
    const { ask, logs } = setup({}, (s) => ({
      ...s,
      search: () => Promise.reject(new Error('disk on fire')),
    }));
    expect(await ask('cat')).toEqual({
      kind: 'notice',
      level: 'error',
      text: 'Something went wrong on our side. Please try again.',
    });
    expect(logs()).toContainEqual(
      expect.objectContaining({
        level: ERROR,
        msg: 'request failed',
        intent: 'refine',
        code: 'internal',
        err: expect.objectContaining({ message: expect.stringContaining('disk on fire') }),
      }),
    );
  });

  it('a request that cannot be read at all is answered, and logged with intent "unknown"', async () => {
    const { ask, logs } = setup();
    const bogus = { type: 'bogus' } as unknown as SearchAction;
    expect(await ask(undefined, { action: bogus })).toMatchObject({ kind: 'notice', level: 'error' });
    expect(logs()).toContainEqual(expect.objectContaining({ level: ERROR, intent: 'unknown' }));
  });
});

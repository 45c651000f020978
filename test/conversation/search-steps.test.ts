/**
 * The conversation's search steps on their own (src/conversation/search-steps.ts): what CLIP is asked
 * to read, how refinements and negatives change the state, what "open N" sends, and how failures of
 * the outside voices (language check, rewriter, image fetch, embedding) are answered and logged.
 * The search service is the in-memory one of test/support; the rewriter and guesser are small fakes.
 */
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { type ConversationState, newConversation } from '../../src/conversation/conversation-state.ts';
import { MSG } from '../../src/conversation/messages.ts';
import { SearchSteps, type SearchStepsOptions } from '../../src/conversation/search-steps.ts';
import { ImageSearchError } from '../../src/core/errors.ts';
import type { BotReply, QueryLanguageGuesser, QueryRewriter } from '../../src/core/types.ts';
import { createConcurrencyLimiter } from '../../src/util/locks.ts';
import { memoryLogger, parsedLines } from '../rerank/helpers.ts';
import { createMemorySearchService, type MemorySearchOptions } from '../support/memory-search.ts';

function setup(over: Partial<SearchStepsOptions> = {}, searchOpts: MemorySearchOptions = {}) {
  const search = createMemorySearchService(searchOpts);
  const log = memoryLogger();
  const steps = new SearchSteps({
    search,
    logger: log.logger,
    limiter: createConcurrencyLimiter({ max: 2 }),
    rewriteTimeoutMs: 1000,
    openWidth: 1600,
    ...over,
  });
  return { steps, search, logs: () => parsedLines(log.lines) };
}

const conv = (over: Partial<ConversationState> = {}): ConversationState => ({
  ...newConversation('web:u1', 1000),
  ...over,
});

/** A guesser that calls every text non-English (with `language` when given) and records what it saw. */
function foreign(language?: string): QueryLanguageGuesser & { seen: string[] } {
  const seen: string[] = [];
  return {
    seen,
    guess: async (text) => {
      seen.push(text);
      return language ? { english: false, language } : { english: false };
    },
  };
}

/** A rewriter with a fixed answer that records its calls. */
function rewriterSaying(answer: string): QueryRewriter & { calls: Array<[string, string[]]> } {
  const calls: Array<[string, string[]]> = [];
  return {
    calls,
    rewrite: async (original, refinements) => {
      calls.push([original, refinements]);
      return answer;
    },
  };
}

const WARN = 40;
const DEBUG = 20;

describe('SearchSteps.run', () => {
  it('keeps only the newest 400 shown ids, dropping the oldest', async () => {
    const { steps } = setup();
    const old = Array.from({ length: 400 }, (_, i) => `old-${i}`);
    const { conv: next, reply } = await steps.run(conv({ queryText: 'cat', shownIds: old }), {
      reuseVector: false,
    });
    const picked = reply?.picks.map((p) => p.id) ?? [];
    expect(picked).toHaveLength(4);
    expect(next.shownIds).toHaveLength(400);
    expect(next.shownIds.slice(0, 2)).toEqual(['old-4', 'old-5']);
    expect(next.shownIds.slice(-4)).toEqual(picked);
  });

  it('drops an anchor of another size (an older model) and searches with the words alone', async () => {
    const { steps, search } = setup();
    const { conv: next } = await steps.run(
      conv({ queryText: 'cat', anchor: new Array<number>(16).fill(0.25), anchorLabel: 'more like #1' }),
      { reuseVector: false },
    );
    expect(next.vector).toEqual(Array.from(await search.embedText('cat')));
  });
});

describe('SearchSteps.understand', () => {
  it('a translated query whose language has no code is marked "other"', async () => {
    const { steps } = setup({ language: foreign(), rewriter: rewriterSaying('cat on a beach') });
    expect(await steps.understand('mačka na pláži')).toEqual({
      queryText: 'cat on a beach',
      language: 'other',
      note: MSG.translated('cat on a beach'),
    });
  });

  it('words the rewriter keeps (but for case) are searched as written, with nothing to say', async () => {
    const rewriter = rewriterSaying('gato');
    const { steps } = setup({ language: foreign('es'), rewriter });
    expect(await steps.understand('Gato')).toEqual({ queryText: 'Gato' });
    expect(rewriter.calls).toEqual([['Gato', []]]);
  });

  it('without a rewriter a query in another language is searched as written, with a note', async () => {
    const { steps } = setup({ language: foreign('de') });
    expect(await steps.understand('Hund im Schnee')).toEqual({
      queryText: 'Hund im Schnee',
      note: MSG.notEnglish,
    });
  });

  it('no words: nothing is sent to the language check or the rewriter', async () => {
    const language = foreign('es');
    const rewriter = rewriterSaying('something');
    const { steps } = setup({ language, rewriter });
    expect(await steps.understand('')).toEqual({ queryText: '' });
    expect(language.seen).toEqual([]);
    expect(rewriter.calls).toEqual([]);
  });

  it('a broken language check counts the words as English and logs a warning', async () => {
    const { steps, logs } = setup({
      language: { guess: () => Promise.reject(new Error('detector down')) },
    });
    expect(await steps.understand('Hund im Schnee')).toEqual({ queryText: 'Hund im Schnee' });
    expect(logs()).toContainEqual(
      expect.objectContaining({
        level: WARN,
        msg: 'language check failed; searching as written',
        err: expect.objectContaining({ message: 'detector down' }),
      }),
    );
  });
});

describe('SearchSteps.refine', () => {
  it('negative terms alone change the negatives, not the words', async () => {
    const language = foreign('es');
    const { steps } = setup({ language });
    const before = conv({
      original: 'cats',
      queryText: 'cats, at night',
      refinements: ['at night'],
      negatives: ['people'],
    });
    expect(await steps.refine(before, '', ['dog', 'people'])).toEqual({
      conv: { ...before, negatives: ['people', 'dog'] },
    });
    expect(language.seen).toEqual([]);
  });

  it('a refinement in another language without a rewriter: merged, marked "other", with a note', async () => {
    const { steps } = setup({ language: foreign() });
    const before = conv({ original: 'cats', queryText: 'cats' });
    expect(await steps.refine(before, 'en la playa', [])).toEqual({
      conv: { ...before, refinements: ['en la playa'], queryText: 'cats, en la playa', language: 'other' },
      note: MSG.notEnglish,
    });
  });

  it('an English refinement without a rewriter is merged with nothing to say', async () => {
    const { steps } = setup();
    const before = conv({ original: 'cats', queryText: 'cats' });
    expect(await steps.refine(before, 'at night', [])).toEqual({
      conv: { ...before, refinements: ['at night'], queryText: 'cats, at night' },
    });
  });

  it('a refinement in another language with a rewriter is rewritten, with nothing to say', async () => {
    const rewriter = rewriterSaying('cats on a beach');
    const { steps } = setup({ language: foreign('es'), rewriter });
    const before = conv({ original: 'cats', queryText: 'cats' });
    expect(await steps.refine(before, 'en la playa', [])).toEqual({
      conv: { ...before, refinements: ['en la playa'], queryText: 'cats on a beach', language: 'es' },
    });
    expect(rewriter.calls).toEqual([['cats', ['en la playa']]]);
  });

  it('a search without words (an uploaded image) takes the refinement as its words, without the rewriter', async () => {
    const rewriter = rewriterSaying('something else entirely');
    const { steps } = setup({ rewriter });
    const before = conv({ original: '', queryText: '', anchor: [1, 0], anchorLabel: 'your image' });
    const { conv: next } = await steps.refine(before, 'at night', []);
    expect(next.queryText).toBe('at night');
    expect(rewriter.calls).toEqual([]);
  });

  it('a failing rewriter is logged as a warning; an empty answer as a debug line; both merge', async () => {
    const before = conv({ original: 'cats', queryText: 'cats' });
    const failing = setup({ rewriter: { rewrite: () => Promise.reject(new Error('503 from Gemini')) } });
    expect((await failing.steps.refine(before, 'at night', [])).conv.queryText).toBe('cats, at night');
    expect(failing.logs()).toContainEqual(
      expect.objectContaining({
        level: WARN,
        msg: 'query rewrite failed; merged instead',
        err: expect.objectContaining({ message: '503 from Gemini' }),
      }),
    );

    const empty = setup({ rewriter: rewriterSaying('  ') });
    expect((await empty.steps.refine(before, 'at night', [])).conv.queryText).toBe('cats, at night');
    expect(empty.logs()).toContainEqual(
      expect.objectContaining({
        level: DEBUG,
        msg: 'rewriter gave nothing usable; merged instead',
        original: 'cats',
      }),
    );
  });

  it('a slow rewriter is told why it was cut off: the rewrite deadline passed', async () => {
    let reason = '';
    const slow: QueryRewriter = {
      rewrite: (_o, _r, signal) =>
        new Promise<string | undefined>(() => {
          signal?.addEventListener('abort', () => {
            reason = String((signal.reason as Error).message);
          });
        }),
    };
    const { steps } = setup({ rewriter: slow, rewriteTimeoutMs: 20 });
    const before = conv({ original: 'cats', queryText: 'cats' });
    expect((await steps.refine(before, 'at night', [])).conv.queryText).toBe('cats, at night');
    expect(reason).toBe('rewrite of 20 ms passed');
  });
});

describe('SearchSteps.open', () => {
  const png = () =>
    sharp({ create: { width: 4, height: 4, channels: 3, background: '#336699' } })
      .png()
      .toBuffer();
  const webp = () =>
    sharp({ create: { width: 4, height: 4, channels: 3, background: '#336699' } })
      .webp()
      .toBuffer();
  const picks = [
    { id: 'img-000', score: 0.9 },
    { id: 'img-001', score: 0.8 },
  ];

  function opened(reply: BotReply | undefined) {
    if (reply?.kind !== 'open') throw new Error(`expected open, got ${reply?.kind}`);
    return reply;
  }

  it('a PNG is sent as PNG, under the pick’s text: description, credit and link, one per line', async () => {
    const base = createMemorySearchService();
    const bytes = await png();
    const { steps } = setup({ search: { ...base, getImage: async () => bytes } });
    const reply = opened(await steps.open(conv({ lastPicks: picks }), 2));
    expect(reply.text).toBe(
      '#2 — dog and snow\nPhoto by Photographer 1\nhttps://example.test/photos/img-001',
    );
    expect(reply.image).toEqual({ bytes, mime: 'image/png', fileName: 'imagesearch-img-001.png' });
    expect(reply.pick).toMatchObject({ id: 'img-001', score: 0.8, n: 2 });
  });

  it('a WebP is sent as WebP', async () => {
    const base = createMemorySearchService();
    const bytes = await webp();
    const { steps } = setup({ search: { ...base, getImage: async () => bytes } });
    const reply = opened(await steps.open(conv({ lastPicks: picks }), 1));
    expect(reply.image).toEqual({ bytes, mime: 'image/webp', fileName: 'imagesearch-img-000.webp' });
  });

  it('bytes that only start like a PNG or a RIFF container are sent as JPEG', async () => {
    const riff = (form: string, head = 'RIFF') =>
      Buffer.concat([Buffer.from(head, 'latin1'), Buffer.alloc(4), Buffer.from(form, 'latin1')]);
    const cases = [
      Buffer.from([0x89, 0x00, 0x4e, 0x47]),
      Buffer.from([0x00, 0x50, 0x4e, 0x47]),
      riff('WAVE'),
      riff('WEBP', 'RIFX'),
    ];
    for (const bytes of cases) {
      const base = createMemorySearchService();
      const { steps } = setup({ search: { ...base, getImage: async () => bytes } });
      const reply = opened(await steps.open(conv({ lastPicks: picks }), 1));
      expect(reply.image).toEqual({ bytes, mime: 'image/jpeg', fileName: 'imagesearch-img-000.jpg' });
    }
  });

  it('an entry without description or credit: just the number and the link', async () => {
    const { steps } = setup({}, { entry: (e) => ({ id: e.id, pageUrl: `https://example.test/p/${e.id}` }) });
    const reply = opened(await steps.open(conv({ lastPicks: picks }), 1));
    expect(reply.text).toBe('#1\nhttps://example.test/p/img-000');
  });

  it('the file name keeps letters, digits, "_" and "-" of the id (runs of others become one "_"), at most 60', async () => {
    const odd = setup({}, { entry: (e) => ({ ...e, id: `photos/2024 06//${e.id}:raw` }) });
    const a = opened(await odd.steps.open(conv({ lastPicks: picks }), 1));
    expect(a.image?.fileName).toBe('imagesearch-photos_2024_06_img-000_raw.jpg');

    const long = setup({}, { entry: (e) => ({ ...e, id: `${e.id}-${'x'.repeat(80)}` }) });
    const b = opened(await long.steps.open(conv({ lastPicks: picks }), 1));
    expect(b.image?.fileName).toBe(`imagesearch-img-000-${'x'.repeat(52)}.jpg`);
  });

  it('an image that cannot be fetched: the text and the pick alone, and a warning naming the entry', async () => {
    const base = createMemorySearchService();
    const { steps, logs } = setup({
      search: { ...base, getImage: () => Promise.reject(new Error('403 from the image host')) },
    });
    const reply = await steps.open(conv({ lastPicks: picks }), 1);
    expect(reply).toEqual({
      kind: 'open',
      text: '#1 — cat and mountain\nPhoto by Photographer 0\nhttps://example.test/photos/img-000',
      pick: { id: 'img-000', score: 0.9, n: 1, entry: await base.getEntry('img-000') },
    });
    expect(logs()).toContainEqual(
      expect.objectContaining({
        level: WARN,
        id: 'img-000',
        msg: 'could not fetch the full-size image; sending the link only',
        err: expect.objectContaining({ message: '403 from the image host' }),
      }),
    );
  });
});

describe('SearchSteps: query by image', () => {
  const png = () =>
    sharp({ create: { width: 8, height: 8, channels: 3, background: '#cc3366' } })
      .png()
      .toBuffer();

  it('an image the pipeline refuses becomes image_invalid with the friendly message and the cause', async () => {
    const base = createMemorySearchService();
    const cause = new Error('vips: bad header');
    const { steps } = setup({ search: { ...base, checkImage: () => Promise.reject(cause) } });
    const err = await steps.checkImage(await png()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ImageSearchError);
    expect(err).toMatchObject({ code: 'image_invalid', userMessage: MSG.imageUnreadable, cause });
  });

  it('"too large" from the header check passes through unchanged', async () => {
    const base = createMemorySearchService();
    const tooLarge = new ImageSearchError('image_too_large', 'Too many pixels.');
    const { steps } = setup({ search: { ...base, checkImage: () => Promise.reject(tooLarge) } });
    await expect(steps.checkImage(await png())).rejects.toBe(tooLarge);
  });

  it('the upload is encoded by the pipeline and kept as the image side; "busy" from the limiter passes through', async () => {
    const { steps, search } = setup();
    const bytes = await png();
    const { conv: next } = await steps.run(conv({ anchorLabel: 'your image' }), {
      reuseVector: false,
      image: bytes,
    });
    expect(search.queries[0]?.image).toBe(bytes);
    expect(next.anchor).toEqual(Array.from(await search.embedImage(bytes)));
    expect(next.vector).toEqual(next.anchor);

    const busy = new ImageSearchError('busy', 'Busy right now.');
    const { steps: full } = setup({
      limiter: { run: () => Promise.reject(busy), active: 2, queued: 8 },
    });
    await expect(full.run(conv(), { reuseVector: false, image: bytes })).rejects.toBe(busy);
  });
});

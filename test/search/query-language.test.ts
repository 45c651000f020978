import { eld } from 'eld/extrasmall';
import { beforeAll, describe, expect, it } from 'vitest';
import { ClipTokenizer } from '../../src/clip/tokenizer.ts';
import { QueryLanguage } from '../../src/search/query-language.ts';
import { CLIP_FIXTURES_DIR } from '../support/fixtures.ts';

let lang: QueryLanguage;
let tok: ClipTokenizer;

beforeAll(async () => {
  tok = await ClipTokenizer.fromDir(CLIP_FIXTURES_DIR);
  lang = new QueryLanguage({ knownWord: (w) => tok.isWholeWord(w) });
  await lang.warm();
});

describe('CLIP vocabulary words', () => {
  it('knows common English words as whole tokens, and not foreign ones', () => {
    for (const w of ['cat', 'sofa', 'balloons', 'sunset', 'pizza']) expect(tok.isWholeWord(w)).toBe(true);
    for (const w of ['gatos', 'schnee', 'voiture', 'zonsondergang', 'two words', ''])
      expect(tok.isWholeWord(w)).toBe(false);
  });
});

describe('query language', () => {
  const english = [
    'cats on a sofa',
    'New York skyline',
    'café in Paris',
    'mountains at sunset',
    'croissant on a table',
    'hot air balloons',
    'colorful umbrellas',
    'desert dunes',
    'old man smiling',
    'golden retriever puppy',
    'minimalist interior',
    'two dogs playing in the snow',
    'only black and white',
    'without people',
    'neon street at night tokyo',
    'a dachshund on the beach',
    'bokeh',
    'fjord',
    'selfie',
    '🐱 on a sofa',
    'desert dunes',
    'santa monica pier',
    'la jolla beach',
    'casa blanca',
    'pasta with tomato sauce',
  ];
  it.each(english)('treats "%s" as English (no rewrite, no note)', async (q) => {
    expect((await lang.guess(q)).english).toBe(true);
  });

  const foreign: Array<[string, string | undefined]> = [
    ['gatos en un sofá', 'es'],
    ['chat sur un canapé', 'fr'],
    ['gatti sul divano', 'it'],
    ['Hund im Schnee', 'de'],
    ['strand bij zonsondergang', 'nl'],
    ['une voiture rouge', 'fr'],
    ['ein rotes Auto', 'de'],
    ['perro en la playa', 'es'],
    ['zwei Hunde spielen im Schnee', 'de'],
    ['chien dans la neige', 'fr'],
    ['gato en la playa', 'es'],
    ['le chat noir', 'fr'],
    ['una mujer con flores', 'es'],
    ['кошка на диване', undefined],
    ['自転車', undefined],
    ['고양이', undefined],
  ];
  it.each(foreign)('recognises "%s" as not English', async (q, code) => {
    const g = await lang.guess(q);
    expect(g.english).toBe(false);
    if (code) expect(g).toMatchObject({ language: code, reason: 'detector' });
    else expect(g.reason).toBe('script');
  });

  it('an English function word decides at once; no letters means nothing to decide', async () => {
    expect(await lang.guess('cats on a sofa')).toEqual({ english: true, reason: 'vocabulary' });
    expect(await lang.guess('1234 !!')).toEqual({ english: true, reason: 'undecided' });
    expect(await lang.guess('кошка')).toEqual({ english: false, reason: 'script' });
  });
});

describe('query language thresholds', () => {
  // The detector's own scores (eld, the n-gram detector QueryLanguage loads), to set the options exactly.
  const englishShare = (text: string) => {
    const r = eld.detect(text);
    const scores = r.getScores();
    return (scores.en ?? 0) / scores[r.language]!;
  };
  const allKnown = () => true;
  const noneKnown = () => false;

  it('ignores one-letter words, even a foreign function word such as "y"', async () => {
    // eld: Spanish, English scores 0; both longer words are taken as known to CLIP.
    const l = new QueryLanguage({ knownWord: allKnown });
    expect(await l.guess('perro y gato')).toEqual({ english: true, reason: 'vocabulary' });
    expect(await l.guess('gato en la playa')).toMatchObject({ english: false, language: 'es' });
  });

  it('counts a query as English when English scores at least englishRatio of the top language', async () => {
    const share = englishShare('playa y montaña');
    expect(share).toBeGreaterThan(0.5);
    expect(share).toBeLessThan(0.85);
    const q = 'playa y montaña';
    expect(await new QueryLanguage({ knownWord: noneKnown }).guess(q)).toEqual({
      english: false,
      language: 'es',
      reason: 'detector',
    });
    for (const englishRatio of [0.5, share]) {
      expect(await new QueryLanguage({ knownWord: noneKnown, englishRatio }).guess(q)).toEqual({
        english: true,
        reason: 'undecided',
      });
    }
  });

  it('with every word known to CLIP, needs English below knownWordsRatio', async () => {
    const q = 'gato en la playa';
    const share = englishShare(q);
    expect(share).toBeGreaterThan(0);
    expect(await new QueryLanguage({ knownWord: allKnown, knownWordsRatio: share }).guess(q)).toEqual({
      english: true,
      reason: 'vocabulary',
    });
    // Under the default 0.7 (the function words "en" and "la" are there): Spanish.
    expect(share).toBeLessThan(0.7);
    expect(await new QueryLanguage({ knownWord: allKnown }).guess(q)).toMatchObject({
      english: false,
      language: 'es',
    });
  });

  it('never calls a query the detector finds English foreign, whatever englishRatio says', async () => {
    const l = new QueryLanguage({ knownWord: noneKnown, englishRatio: 2 });
    expect(await l.guess('Stryker was here')).toEqual({ english: true, reason: 'undecided' });
  });
});

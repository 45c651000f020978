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

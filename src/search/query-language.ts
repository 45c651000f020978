/**
 * Is a query English? CLIP ViT-B/32 was trained on English captions, so a query in another language
 * finds weaker matches; with Gemini configured it is rewritten to English first, without it the user
 * is told. Deciding must cost nothing for English queries, and a wrong "not English" is worse than a
 * miss (it costs a Gemini round trip or shows a pointless note), so the checks run cheapest and
 * surest first:
 *
 * 1. Letters of a non-Latin script (Cyrillic, Han, Arabic, …): not English.
 * 2. Every word is a whole token of CLIP's own vocabulary: English enough for CLIP ("hot air
 *    balloons", "desert dunes", "pizza"). Short borrowed names land here too, which is harmless.
 * 3. Otherwise a statistical detector (eld, n-grams, loaded on first use) must be confident, name
 *    another language, and score English clearly lower; English function words veto it.
 */
export interface LanguageGuess {
  english: boolean;
  /** ISO 639-1 code when a language other than English was recognised. */
  language?: string;
  reason: 'script' | 'vocabulary' | 'detector' | 'undecided';
}

/** What the detector needs from the model: is `word` one whole token of its vocabulary? */
export type KnownWord = (word: string) => boolean;

export interface QueryLanguageOptions {
  knownWord: KnownWord;
  /** English score under this share of the top language's score means "clearly not English". */
  englishRatio?: number;
}

type Detector = (text: string) => { language: string; reliable: boolean; scores: Record<string, number> };

const NON_LATIN =
  /[\p{Script=Cyrillic}\p{Script=Greek}\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}\p{Script=Arabic}\p{Script=Hebrew}\p{Script=Devanagari}\p{Script=Bengali}\p{Script=Tamil}\p{Script=Telugu}\p{Script=Thai}\p{Script=Georgian}\p{Script=Armenian}\p{Script=Ethiopic}\p{Script=Khmer}\p{Script=Gujarati}\p{Script=Gurmukhi}]/u;

/** Words that only English uses among the languages the detector confuses with it. */
const ENGLISH_WORDS = new Set([
  'the',
  'with',
  'of',
  'and',
  'on',
  'at',
  'under',
  'near',
  'from',
  'into',
  'over',
  'without',
  'an',
]);

/** Script letters a CLIP query may hold once markup is gone; digits and symbols are ignored. */
const WORD = /\p{L}[\p{L}\p{M}'’-]*/gu;

export class QueryLanguage {
  readonly #known: KnownWord;
  readonly #ratio: number;
  #detector: Promise<Detector> | undefined;

  constructor(opts: QueryLanguageOptions) {
    this.#known = opts.knownWord;
    this.#ratio = opts.englishRatio ?? 0.85;
  }

  /** Loads the n-gram detector now (≈ 0.5 s, ≈ 40 MB) so the first foreign query does not wait for it. */
  warm(): Promise<void> {
    return this.#load().then(() => undefined);
  }

  async guess(text: string): Promise<LanguageGuess> {
    if (NON_LATIN.test(text)) return { english: false, reason: 'script' };
    const words = (text.toLowerCase().match(WORD) ?? []).filter((w) => w.length >= 2);
    if (words.length === 0) return { english: true, reason: 'undecided' };
    if (words.every((w) => this.#known(w))) return { english: true, reason: 'vocabulary' };
    const detect = await this.#load();
    const r = detect(text);
    if (!r.reliable || !r.language || r.language === 'en') return { english: true, reason: 'undecided' };
    const top = r.scores[r.language] ?? 0;
    const english = r.scores.en ?? 0;
    if (english >= this.#ratio * top) return { english: true, reason: 'undecided' };
    if (words.some((w) => ENGLISH_WORDS.has(w))) return { english: true, reason: 'undecided' };
    return { english: false, language: r.language, reason: 'detector' };
  }

  #load(): Promise<Detector> {
    this.#detector ??= import('eld/extrasmall').then(({ eld }) => (text: string) => {
      const r = eld.detect(text);
      return { language: r.language, reliable: r.isReliable(), scores: r.getScores() };
    });
    return this.#detector;
  }
}

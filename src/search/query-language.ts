/**
 * Is a query English? CLIP ViT-B/32 was trained on English captions, so a query in another language
 * finds weaker matches; with Gemini configured it is rewritten to English first, without it the user
 * is told. A wrong "not English" costs a Gemini round trip or shows a pointless note, so the rules
 * lean towards English:
 *
 * 1. Letters of a non-Latin script (Cyrillic, Han, Arabic, …): not English.
 * 2. An English function word ("the", "with", "on", …): English (names and loan words often come
 *    with one: "café in Paris", "pasta with tomato sauce").
 * 3. A statistical detector (eld, n-grams, loaded on first use) must be confident, name another
 *    language and score English clearly lower.
 * 4. When every word is also a whole token of CLIP's own vocabulary ("desert dunes", "santa monica
 *    pier", but also "gato en la playa"), the bar is higher still: English must score much lower and
 *    a function word of another language ("la", "le", "der", …) must be there.
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
  /** The stricter share used when CLIP knows every word. */
  knownWordsRatio?: number;
}

type Detector = (text: string) => { language: string; reliable: boolean; scores: Record<string, number> };

const NON_LATIN =
  /[\p{Script=Cyrillic}\p{Script=Greek}\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}\p{Script=Arabic}\p{Script=Hebrew}\p{Script=Devanagari}\p{Script=Bengali}\p{Script=Tamil}\p{Script=Telugu}\p{Script=Thai}\p{Script=Georgian}\p{Script=Armenian}\p{Script=Ethiopic}\p{Script=Khmer}\p{Script=Gujarati}\p{Script=Gurmukhi}]/u;

const words = (list: string) => new Set(list.split(/\s+/).filter(Boolean));

/** Function words only English uses among the languages the detector confuses with it. */
const ENGLISH_WORDS = words('the with of and on at under near from into over without');

/** Common function words of the Latin-script languages whose words CLIP's vocabulary also holds. */
const FOREIGN_WORDS = words(`
  el la los las un una unos unas en con del y al
  le les une des du dans sur et avec au aux
  der die das dem den im mit und ein eine einem einer auf
  il lo gli sul sulla nel nella della di
  os na nas um uma com da do
  het een bij op van`);

/** Letters of one word; digits, emoji and punctuation are not words. */
const WORD = /\p{L}[\p{L}\p{M}'’-]*/gu;

export class QueryLanguage {
  readonly #known: KnownWord;
  readonly #ratio: number;
  readonly #knownRatio: number;
  #detector: Promise<Detector> | undefined;

  constructor(opts: QueryLanguageOptions) {
    this.#known = opts.knownWord;
    this.#ratio = opts.englishRatio ?? 0.85;
    this.#knownRatio = opts.knownWordsRatio ?? 0.7;
  }

  /** Loads the n-gram detector now (≈ 0.5 s, ≈ 40 MB) so the first foreign query does not wait for it. */
  warm(): Promise<void> {
    return this.#load().then(() => undefined);
  }

  async guess(text: string): Promise<LanguageGuess> {
    if (NON_LATIN.test(text)) return { english: false, reason: 'script' };
    const list = (text.toLowerCase().match(WORD) ?? []).filter((w) => w.length >= 2);
    if (list.length === 0) return { english: true, reason: 'undecided' };
    if (list.some((w) => ENGLISH_WORDS.has(w))) return { english: true, reason: 'vocabulary' };
    const r = (await this.#load())(text);
    if (!r.reliable || !r.language || r.language === 'en') return { english: true, reason: 'undecided' };
    const ratio = (r.scores.en ?? 0) / (r.scores[r.language] || 1);
    if (ratio >= this.#ratio) return { english: true, reason: 'undecided' };
    if (
      list.every((w) => this.#known(w)) &&
      (ratio >= this.#knownRatio || !list.some((w) => FOREIGN_WORDS.has(w)))
    )
      return { english: true, reason: 'vocabulary' };
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

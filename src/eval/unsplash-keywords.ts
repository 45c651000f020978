/**
 * A labelled set from the Unsplash dataset's `keywords.tsv*` parts: each keyword is a query, and the
 * indexed photos tagged with it (by either AI service above a confidence, or by a person) are its
 * relevant photos. This lets anyone who ran `setup` measure the model they actually use.
 */
import { ImageSearchError } from '../core/errors.ts';
import { readDelimited } from '../setup/unsplash-tsv.ts';
import type { LabelledQuery } from './labelled-set.ts';

export interface KeywordSetOptions {
  /** `keywords.tsv000…` files (src/setup/unsplash.ts lists them). */
  parts: string[];
  /** Only photos the index holds can be found: everything else is left out. Asked once per photo. */
  inIndex: (photoId: string) => boolean | Promise<boolean>;
  /** AI confidence (0–100; files that use 0–1 are scaled) at or above which a tag counts. Default 50. */
  minConfidence?: number;
  /** Keywords with fewer relevant indexed photos are dropped (too noisy to score). Default 5. */
  perKeywordMin?: number;
  /** Keep this many keywords, chosen by a seeded shuffle (the same set on every run). Default: all. */
  sample?: number;
  seed?: number;
}

export interface KeywordSet {
  queries: LabelledQuery[];
  /** Distinct keywords seen, and how many passed `perKeywordMin`. */
  keywordsSeen: number;
  keywordsKept: number;
}

const DEFAULTS = { minConfidence: 50, perKeywordMin: 5, seed: 1 } as const;

export async function buildKeywordSet(opts: KeywordSetOptions): Promise<KeywordSet> {
  const minConfidence = opts.minConfidence ?? DEFAULTS.minConfidence;
  const perKeywordMin = opts.perKeywordMin ?? DEFAULTS.perKeywordMin;
  if (opts.parts.length === 0)
    throw new ImageSearchError(
      'usage',
      'No keywords.tsv files found. Run `npx imagesearch setup` (it keeps them), or pass --keywords with the folder of the Unsplash dataset.',
    );

  // Tags are read whole first: whether confidences are on a 0–1 or a 0–100 scale is only known at the end.
  const tags: Array<{ keyword: string; id: string; ai: number; user: boolean }> = [];
  const held = new Map<string, boolean>();
  const inIndex = async (id: string) => {
    const known = held.get(id);
    if (known !== undefined) return known;
    const yes = await opts.inIndex(id);
    held.set(id, yes);
    return yes;
  };
  let maxConfidence = 0;
  for (const part of opts.parts) {
    let col: Record<'id' | 'keyword' | 'ai1' | 'ai2' | 'user', number> | undefined;
    for await (const record of readDelimited(part)) {
      if (!col) {
        const header = record.map((h) => h.trim());
        col = {
          id: header.indexOf('photo_id'),
          keyword: header.indexOf('keyword'),
          ai1: header.indexOf('ai_service_1_confidence'),
          ai2: header.indexOf('ai_service_2_confidence'),
          user: header.indexOf('suggested_by_user'),
        };
        if (col.id < 0 || col.keyword < 0)
          throw new ImageSearchError(
            'usage',
            `${part} is not an Unsplash keywords table (no photo_id/keyword header).`,
          );
        continue;
      }
      const id = record[col.id]?.trim() ?? '';
      const keyword = normaliseKeyword(record[col.keyword] ?? '');
      if (!id || !keyword || !(await inIndex(id))) continue;
      const ai = Math.max(confidence(record[col.ai1]), confidence(record[col.ai2]));
      maxConfidence = Math.max(maxConfidence, ai);
      tags.push({ keyword, id, ai, user: isTrue(record[col.user]) });
    }
  }
  // (A table with no AI confidence at all has only zeros, which no scale changes.)
  const scale = maxConfidence <= 1 ? 100 : 1;

  const byKeyword = new Map<string, Set<string>>();
  for (const t of tags) {
    if (!t.user && t.ai * scale < minConfidence) continue;
    const ids = byKeyword.get(t.keyword) ?? new Set<string>();
    ids.add(t.id);
    byKeyword.set(t.keyword, ids);
  }
  const keywordsSeen = new Set(tags.map((t) => t.keyword)).size;
  let queries = [...byKeyword]
    .filter(([, ids]) => ids.size >= perKeywordMin)
    // Keywords are Map keys, never equal: two outcomes suffice.
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([query, ids]) => ({ query, relevant: [...ids].sort() }));
  const keywordsKept = queries.length;
  // A sample as large as the set (or none: slice to undefined) is the whole set, back in keyword order.
  queries = seededShuffle(queries, opts.seed ?? DEFAULTS.seed)
    .slice(0, opts.sample)
    .sort((a, b) => (a.query < b.query ? -1 : 1));
  return { queries, keywordsSeen, keywordsKept };
}

function normaliseKeyword(raw: string): string {
  return raw.replace(/\s+/g, ' ').trim().toLowerCase();
}

function confidence(v: string | undefined): number {
  const n = Number(v);
  // Number() of a missing, empty or blank cell is NaN or 0, neither of which passes.
  return Number.isFinite(n) && n > 0 ? n : 0;
}

function isTrue(v: string | undefined): boolean {
  return /^(t|true|1|yes)$/i.test(v?.trim() ?? '');
}

/** Fisher–Yates with a small deterministic generator (mulberry32). */
function seededShuffle<T>(items: readonly T[], seed: number): T[] {
  const out = [...items];
  let s = seed >>> 0;
  const next = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

/**
 * The Unsplash keywords table as the dataset (and spreadsheets) write it: blanks around header names,
 * ids and keywords; confidences that are empty, non-numbers, negative, exactly at the threshold or on
 * a 0–1 scale topping out at exactly 1; the spellings of "suggested by a person"; output order; and
 * the seeded sample pinned, so a given seed picks the same keywords in every release.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildKeywordSet } from '../../src/eval/unsplash-keywords.ts';
import { tempDir } from '../support/fixtures.ts';

const HEADER = 'photo_id\tkeyword\tai_service_1_confidence\tai_service_2_confidence\tsuggested_by_user';

function part(lines: string[], header = HEADER): string {
  const file = path.join(tempDir('imagesearch-keywords-'), 'keywords.tsv000');
  writeFileSync(file, `${[header, ...lines].join('\n')}\n`);
  return file;
}

const build = (file: string, more: { minConfidence?: number; sample?: number; seed?: number } = {}) =>
  buildKeywordSet({ parts: [file], inIndex: () => true, perKeywordMin: 1, ...more });

describe('keyword sets from the Unsplash table', () => {
  it('trims header names, ids and keywords, folds runs of blanks, and skips rows without an id or keyword', async () => {
    const file = part(
      [' p2 \t  Red   Car \t90\t\tf', 'p1\tred car\t90\t\tf', '\tred car\t90\t\tf', 'p3\t  \t90\t\tf', 'p4'],
      HEADER.split('\t')
        .map((h) => ` ${h} `)
        .join('\t'),
    );
    const set = await build(file);
    expect(set.queries).toEqual([{ query: 'red car', relevant: ['p1', 'p2'] }]);
    expect(set.keywordsSeen).toBe(1);
  });

  it('columns in any order; the index is asked once per photo, however many tags it has', async () => {
    const file = part(
      ['red\tp1\t90', 'blue\tp1\t90', 'green\tp1\t90', 'red\tp2\t90', 'lonely'],
      'keyword\tphoto_id\tai_service_1_confidence',
    );
    const asked: string[] = [];
    const set = await buildKeywordSet({
      parts: [file],
      inIndex: (id) => {
        asked.push(id);
        return true;
      },
      perKeywordMin: 1,
    });
    expect(set.queries.map((q) => q.query)).toEqual(['blue', 'green', 'red']);
    expect(asked).toEqual(['p1', 'p2']);
  });

  it('a table without photo_id or keyword columns is refused by name', async () => {
    for (const header of ['id\tkeyword', 'photo_id\ttag']) {
      const file = part(['a\tb'], header);
      await expect(build(file)).rejects.toMatchObject({
        code: 'usage',
        userMessage: `${file} is not an Unsplash keywords table (no photo_id/keyword header).`,
      });
    }
  });

  it('confidences: at the threshold counts; empty, blank, non-numeric and negative count as none', async () => {
    const file = part([
      'p1\tat\t50\t\tf',
      'p2\tbelow\t49.9\t\tf',
      'p3\tempty\t\t\tf',
      'p4\tblank\t \t \tf',
      'p5\tjunk\tabc\tNaN\tf',
      'p8\tinfinite\tInfinity\t\tf',
      'p6\tnegative\t-80\t\tf',
      'p7\tsecond\t\t60\tf',
    ]);
    expect((await build(file)).queries.map((q) => q.query)).toEqual(['at', 'second']);
    // At threshold 0 every tag counts; a negative confidence reads as none (0), not as below 0.
    const zero = part(['p1\tnegative\t-80\t-70\tf']);
    expect((await build(zero, { minConfidence: 0 })).queries.map((q) => q.query)).toEqual(['negative']);
  });

  it('a 0–1 table whose top confidence is exactly 1 is read on its own scale', async () => {
    const file = part(['p1\tsure\t1\t\tf', 'p2\thalf\t0.5\t\tf', 'p3\tlow\t0.49\t\tf']);
    expect((await build(file)).queries.map((q) => q.query)).toEqual(['half', 'sure']);
  });

  it('"suggested by a person" is t, true, 1 or yes in any case, with blanks; nothing else', async () => {
    const yes = ['t', 'TRUE', ' yes ', '1', 'True'];
    const no = ['f', 'false', 'no', '0', '', 'truely', 'not t', 'yes!'];
    const file = part([
      ...yes.map((v, i) => `y${i}\tyes${i}\t\t\t${v}`),
      ...no.map((v, i) => `n${i}\tno${i}\t\t\t${v}`),
    ]);
    expect((await build(file)).queries.map((q) => q.query)).toEqual(yes.map((_, i) => `yes${i}`));
  });

  it('keywords come out in order, each with its photos in order', async () => {
    const file = part([
      'p3\tzebra\t90\t\tf',
      'p2\tapple\t90\t\tf',
      'p9\tmango\t90\t\tf',
      'p1\tapple\t90\t\tf',
      'p0\tkiwi\t90\t\tf',
    ]);
    expect((await build(file)).queries).toEqual([
      { query: 'apple', relevant: ['p1', 'p2'] },
      { query: 'kiwi', relevant: ['p0'] },
      { query: 'mango', relevant: ['p9'] },
      { query: 'zebra', relevant: ['p3'] },
    ]);
  });

  it('the seeded sample is pinned: seed 1 picks the same five of thirty keywords in every release', async () => {
    const file = part(
      Array.from({ length: 30 }, (_, k) => `p${k}\tkw${String(k).padStart(2, '0')}\t90\t\tf`),
    );
    const pick = async (more: { sample: number; seed?: number }) =>
      (await build(file, more)).queries.map((q) => q.query);
    const five = await pick({ sample: 5 });
    expect(five).toEqual(PINNED_SEED_1);
    expect(await pick({ sample: 5, seed: 1 })).toEqual(five);
    // The same keywords listed in another order: the same sample (it is drawn from keyword order).
    const reversed = part(
      Array.from({ length: 30 }, (_, k) => `p${29 - k}\tkw${String(29 - k).padStart(2, '0')}\t90\t\tf`),
    );
    expect((await build(reversed, { sample: 5 })).queries.map((q) => q.query)).toEqual(PINNED_SEED_1);
    // A sample as large as the set (or larger) is the whole set, in order.
    const all = Array.from({ length: 30 }, (_, k) => `kw${String(k).padStart(2, '0')}`);
    expect(await pick({ sample: 30 })).toEqual(all);
    expect(await pick({ sample: 31 })).toEqual(all);
  });
});

/** What mulberry32-seeded Fisher–Yates with seed 1 keeps of kw00…kw29 (sorted back by keyword). */
const PINNED_SEED_1 = ['kw05', 'kw10', 'kw11', 'kw13', 'kw24'];

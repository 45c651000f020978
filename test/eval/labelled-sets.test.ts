import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseLabelledSet, readLabelledSet } from '../../src/eval/labelled-set.ts';
import { buildKeywordSet } from '../../src/eval/unsplash-keywords.ts';
import { listKeywordParts } from '../../src/setup/unsplash.ts';
import { keywordsTsv, standardKeywords, standardPhotos } from '../peers/unsplash-fixture.ts';
import { tempDir } from '../support/fixtures.ts';

describe('labelled query sets (JSONL)', () => {
  it('reads one query per line, skipping blank lines and repeated ids', () => {
    const set = parseLabelledSet(
      '{"query": "cats on a sofa", "relevant": ["a", "b", "a"]}\n\n{"query":"red bikes","relevant":["c"]}\r\n',
    );
    expect(set).toEqual([
      { query: 'cats on a sofa', relevant: ['a', 'b'] },
      { query: 'red bikes', relevant: ['c'] },
    ]);
  });

  it.each([
    ['not json', 'line 2: is not JSON'],
    ['{"query": "", "relevant": ["a"]}', 'line 2: "query": query is empty'],
    ['{"query": "x", "relevant": []}', 'line 2: "relevant": relevant lists no ids'],
    ['{"query": "x"}', 'line 2: "relevant"'],
    ['["x"]', 'line 2:'],
  ])('names the bad line: %s', (bad, message) => {
    expect(() => parseLabelledSet(`{"query":"ok","relevant":["a"]}\n${bad}\n`, 'q.jsonl')).toThrow(
      expect.objectContaining({ code: 'usage', userMessage: expect.stringContaining(`q.jsonl, ${message}`) }),
    );
  });

  it('refuses an empty file and a missing one with a clear message', async () => {
    expect(() => parseLabelledSet('\n\n', 'q.jsonl')).toThrow(/q.jsonl has no queries/);
    await expect(readLabelledSet(path.join(tempDir(), 'nope.jsonl'))).rejects.toThrow(
      /Cannot read .*nope.jsonl/,
    );
  });
});

describe('labelled set from Unsplash keywords', () => {
  const specs = standardPhotos(12);
  const indexed = new Set(specs.filter((s) => s.kind === 'good').map((s) => s.id));

  function partsDir(tags = standardKeywords(specs)): string {
    const dir = tempDir('imagesearch-keywords-');
    // Split over two parts, each with its own header, as the dataset ships them.
    writeFileSync(path.join(dir, 'keywords.tsv000'), keywordsTsv(tags.slice(0, 10)));
    writeFileSync(path.join(dir, 'keywords.tsv001'), keywordsTsv(tags.slice(10)));
    writeFileSync(path.join(dir, 'photos.tsv000'), 'photo_id\n');
    return dir;
  }

  it('turns confident and person-suggested tags of indexed photos into relevant sets', async () => {
    const parts = await listKeywordParts(partsDir());
    expect(parts.map((p) => path.basename(p))).toEqual(['keywords.tsv000', 'keywords.tsv001']);
    const set = await buildKeywordSet({ parts, inIndex: (id) => indexed.has(id), perKeywordMin: 1 });
    const byQuery = Object.fromEntries(set.queries.map((q) => [q.query, q.relevant]));
    // "blurry" (confidence 20) is below the default 50; keywords are lower-cased.
    expect(Object.keys(byQuery)).toEqual(['lake', 'mountain', 'nature']);
    expect(byQuery.nature).toHaveLength(12);
    expect(byQuery.mountain).toEqual(specs.filter((_, i) => i < 12 && i % 2 === 0).map((s) => s.id));
    // Odd photos: service 2 at 70 (i divisible by 3) or suggested by a person — all count.
    expect(byQuery.lake).toEqual(specs.filter((_, i) => i < 12 && i % 2 === 1).map((s) => s.id));
    expect(set.keywordsSeen).toBe(4);
  });

  it('leaves out photos the index does not hold, and keywords with too few photos', async () => {
    const parts = await listKeywordParts(partsDir());
    const onlyFour = new Set([...indexed].slice(0, 4));
    const set = await buildKeywordSet({ parts, inIndex: (id) => onlyFour.has(id), perKeywordMin: 3 });
    expect(set.queries).toEqual([{ query: 'nature', relevant: [...onlyFour].sort() }]);
    expect(set.keywordsKept).toBe(1);
  });

  it('reads 0–1 confidences on their own scale', async () => {
    const tags = standardKeywords(specs).map((t) => ({
      ...t,
      ...(t.ai1 !== undefined ? { ai1: t.ai1 / 100 } : {}),
      ...(t.ai2 !== undefined ? { ai2: t.ai2 / 100 } : {}),
    }));
    const set = await buildKeywordSet({
      parts: await listKeywordParts(partsDir(tags)),
      inIndex: () => true,
      perKeywordMin: 1,
    });
    expect(set.queries.map((q) => q.query)).toEqual(['lake', 'mountain', 'nature']);
    const strict = await buildKeywordSet({
      parts: await listKeywordParts(partsDir(tags)),
      inIndex: () => true,
      perKeywordMin: 1,
      minConfidence: 85,
    });
    // Only "nature" (0.90) passes 85, plus person-suggested "lake" tags.
    expect(strict.queries.map((q) => q.query)).toEqual(['lake', 'nature']);
  });

  it('samples the same keywords on every run', async () => {
    const tags = Array.from({ length: 30 }, (_, k) =>
      [0, 1, 2].map((j) => ({ photoId: `p${j}`, keyword: `kw${String(k).padStart(2, '0')}`, ai1: 99 })),
    ).flat();
    const parts = await listKeywordParts(partsDir(tags));
    const a = await buildKeywordSet({ parts, inIndex: () => true, sample: 5, perKeywordMin: 3 });
    const b = await buildKeywordSet({ parts, inIndex: () => true, sample: 5, perKeywordMin: 3 });
    expect(a.queries).toHaveLength(5);
    expect(a.queries).toEqual(b.queries);
    const other = await buildKeywordSet({ parts, inIndex: () => true, sample: 5, perKeywordMin: 3, seed: 7 });
    expect(other.queries.map((q) => q.query)).not.toEqual(a.queries.map((q) => q.query));
  });

  it('says what to run when there is no keywords file', async () => {
    await expect(buildKeywordSet({ parts: [], inIndex: () => true })).rejects.toThrow(
      /npx imagesearch setup/,
    );
  });
});

/**
 * The flat engine's kernel is exact: the same top k, in the same order, with the same scores as the
 * plain JavaScript reference, for every query, on clustered data (small score margins, as real CLIP
 * neighbours have) and at sizes that are no multiple of anything.
 */
import { describe, expect, it } from 'vitest';
import { mixture } from '../../scripts/bench/clustered.ts';
import { FlatSearcher, topKPlain } from '../../src/vector/flat-search.ts';

const DIM = 512;

describe('FlatSearcher', () => {
  it('returns the same top 10 as brute force, best first, with the same scores', async () => {
    const rows = 20_011;
    const matrix = mixture(rows, DIM, { seed: 3, clusters: 64 });
    const queries = mixture(25, DIM, { seed: 4, clusters: 64 });
    const searcher = await FlatSearcher.create(matrix, rows, DIM);
    try {
      for (let q = 0; q < 25; q++) {
        const query = queries.subarray(q * DIM, (q + 1) * DIM);
        const got = await searcher.topK(query, 10);
        const want = topKPlain(matrix, DIM, query, 10);
        expect([...got.indices]).toEqual([...want.indices]);
        got.scores.forEach((s, i) => {
          expect(s).toBeCloseTo(want.scores[i]!, 4);
        });
      }
    } finally {
      await searcher.release();
    }
  });

  it('answers k larger than the rows with every row, and k = 0 with none', async () => {
    const matrix = mixture(7, DIM, { seed: 5, clusters: 2 });
    const searcher = await FlatSearcher.create(matrix, 7, DIM, 1);
    try {
      const query = matrix.slice(3 * DIM, 4 * DIM);
      const all = await searcher.topK(query, 50);
      expect([...all.indices]).toEqual([...topKPlain(matrix, DIM, query, 7).indices]);
      expect(all.indices[0]).toBe(3);
      expect((await searcher.topK(query, 0)).indices.length).toBe(0);
    } finally {
      await searcher.release();
    }
  });
});

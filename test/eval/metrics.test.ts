import { describe, expect, it } from 'vitest';
import { meanMetrics, scoreQuery } from '../../src/eval/metrics.ts';

const ids = (s: string) => s.split(' ');

describe('retrieval metrics (binary relevance)', () => {
  it('matches a hand computation', () => {
    // Ranked: a b c d | e f g h i j ; relevant: b, d, g, z (z never retrieved).
    const m = scoreQuery(ids('a b c d e f g h i j'), new Set(ids('b d g z')));
    expect(m.precisionAt4).toBe(2 / 4);
    expect(m.recallAtK).toBe(3 / 4);
    // DCG = 1/log2(3) + 1/log2(5); ideal (4 relevant, 4 slots) = 1 + 1/log2(3) + 1/2 + 1/log2(5).
    const dcg = 1 / Math.log2(3) + 1 / Math.log2(5);
    const idcg = 1 + 1 / Math.log2(3) + 1 / 2 + 1 / Math.log2(5);
    expect(m.ndcgAt4).toBeCloseTo(dcg / idcg, 12);
    expect(m.mrr).toBe(1 / 2);
  });

  it('normalises NDCG by the hits that can exist when fewer than 4 are relevant', () => {
    // One relevant photo, shown first: perfect NDCG although P@4 is only 1/4.
    const m = scoreQuery(ids('x a b c'), new Set(['x']));
    expect(m.ndcgAt4).toBe(1);
    expect(m.precisionAt4).toBe(0.25);
    expect(m.recallAtK).toBe(1);
    expect(m.mrr).toBe(1);
  });

  it('counts only the first k for recall and MRR', () => {
    const ranked = ids('a b c d e f g h i j k l');
    const m = scoreQuery(ranked, new Set(['k']));
    expect(m.recallAtK).toBe(0);
    expect(m.mrr).toBe(0);
    const wider = scoreQuery(ranked, new Set(['k']), 12);
    expect(wider.recallAtK).toBe(1);
    expect(wider.mrr).toBe(1 / 11);
  });

  it('gives zeros, not NaN, when nothing is relevant or retrieved', () => {
    expect(scoreQuery([], new Set(['a']))).toEqual({ precisionAt4: 0, recallAtK: 0, ndcgAt4: 0, mrr: 0 });
    expect(scoreQuery(ids('a b'), new Set())).toEqual({ precisionAt4: 0, recallAtK: 0, ndcgAt4: 0, mrr: 0 });
  });

  it('averages each metric over queries', () => {
    const a = scoreQuery(ids('a b c d'), new Set(['a']));
    const b = scoreQuery(ids('a b c d'), new Set(['z']));
    expect(meanMetrics([a, b])).toEqual({ precisionAt4: 0.125, recallAtK: 0.5, ndcgAt4: 0.5, mrr: 0.5 });
    expect(meanMetrics([])).toEqual({ precisionAt4: 0, recallAtK: 0, ndcgAt4: 0, mrr: 0 });
  });
});

/**
 * `imagesearch eval`'s printed report, character for character: the column layout, the Gemini
 * fallback note, the order of the worst queries (NDCG@4, then P@4, then the query) and the
 * truncation of long queries. Every figure below is worked out by hand in the comments.
 */
import { describe, expect, it } from 'vitest';
import { type EvalSearch, reportJson, reportTable, runEval } from '../../src/eval/run-eval.ts';

// CLIP order is alphabetical, twelve ids whatever k (the runner keeps k); with rerank, Gemini swaps
// the first two (except for "slow").
const search: EvalSearch = async (query, { rerank }) => {
  const clip = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l'].map((x) => `${query}-${x}`);
  if (!rerank || query === 'slow') return { ids: clip, rankedBy: 'clip', fallbackReason: 'timeout' };
  return { ids: [clip[1]!, clip[0]!, ...clip.slice(2)], rankedBy: 'gemini' };
};

const set = [
  { query: 'cats', relevant: ['cats-b', 'cats-e', 'cats-z'] },
  { query: 'slow', relevant: ['slow-a'] },
];

describe('the eval report', () => {
  it('prints the means side by side, the fallback note and the worst queries', async () => {
    const clip = await runEval({ set, search, rerank: false });
    const gemini = await runEval({ set, search, rerank: true });
    // CLIP only: cats hits at ranks 2 and 5 of 3 relevant: P@4 0.25, R@10 2/3, NDCG@4
    // (1/log2 3) / (1 + 1/log2 3 + 1/2) = 0.2961, MRR 0.5; slow hits at rank 1: 0.25, 1, 1, 1.
    // Means 0.25, 0.833, 0.648, 0.75. Reranked: cats's hit moves to rank 1: NDCG@4 1 / 2.1309 =
    // 0.4693, MRR 1; means 0.25, 0.833, 0.735, 1.
    expect(
      reportTable([
        { label: 'CLIP only', report: clip },
        { label: 'reranked', report: gemini },
      ]),
    ).toBe(
      [
        '2 queries',
        '',
        '                  p@4   r@10 ndcg@4    mrr',
        'CLIP only       0.250  0.833  0.648  0.750',
        'reranked        0.250  0.833  0.735  1.000   (Gemini ranked 1/2; the rest fell back to CLIP order)',
        '',
        'Worst queries (reranked):',
        '  cats   0.25   0.67   0.47   1.00   3 relevant',
        '  slow   0.25   1.00   1.00   1.00   1 relevant',
      ].join('\n'),
    );
    // k and ids as asked: ten ids kept of the twelve the search gave.
    expect(clip.perQuery[0]!.ids).toHaveLength(10);
    expect(reportJson(clip)).toMatchObject({
      rankedBy: { clip: 2 },
      metrics: { 'p@4': 0.25, 'r@10': 0.8333, 'ndcg@4': 0.648, mrr: 0.75 },
    });
    expect(reportJson(clip).rankedBy).toEqual({ clip: 2 });
  });

  it('orders tied worst queries by P@4, then by the query; cuts long queries to 40 characters and the list', async () => {
    const ranked: Record<string, [string[], string[]]> = {
      // [ids returned, relevant ids]
      // Listed against the expected order, so a sort that keeps ties as given is caught.
      zebra: [['n1'], ['x']], // all 0
      'a very long query that goes on and on and on!!': [['n1'], ['x']], // all 0
      melon: [['n1'], ['x']], // all 0: three ties, met in both orders
      mango: [
        ['a', 'b'],
        ['a', 'b'],
      ], // NDCG 1, P@4 0.5
      pear: [['a'], ['a']], // NDCG 1, P@4 0.25: before mango by P@4, though after it by name
    };
    const report = await runEval({
      set: Object.entries(ranked).map(([query, [, relevant]]) => ({ query, relevant })),
      search: async (query) => ({ ids: ranked[query]![0], rankedBy: 'gemini' }),
      rerank: true,
    });
    // All five ranked by Gemini: no note. Means: P@4 (0.5 + 0.25) / 5 = 0.15, the rest 2 / 5 = 0.4.
    expect(reportTable([{ label: 'a longer label', report }], 4)).toBe(
      [
        '5 queries',
        '',
        '                    p@4   r@10 ndcg@4    mrr',
        'a longer label    0.150  0.400  0.400  0.400',
        '',
        'Worst queries (a longer label):',
        '  a very long query that goes on and on a…   0.00   0.00   0.00   0.00   1 relevant',
        '  melon                                      0.00   0.00   0.00   0.00   1 relevant',
        '  zebra                                      0.00   0.00   0.00   0.00   1 relevant',
        '  pear                                       0.25   1.00   1.00   1.00   1 relevant',
      ].join('\n'),
    );
    expect(reportTable([])).toBe('');
    // No queries: the means, and no "worst" heading over an empty list.
    const none = await runEval({
      set: [],
      search: async () => ({ ids: [], rankedBy: 'clip' }),
      rerank: false,
    });
    expect(reportTable([{ label: 'empty', report: none }])).toBe(
      [
        '0 queries',
        '',
        '                  p@4   r@10 ndcg@4    mrr',
        'empty           0.000  0.000  0.000  0.000',
      ].join('\n'),
    );
  });
});

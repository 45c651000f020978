import { describe, expect, it } from 'vitest';
import { type EvalSearch, reportJson, reportTable, runEval } from '../../src/eval/run-eval.ts';

// A tiny deterministic "search": CLIP order is alphabetical; with rerank, Gemini swaps the first two.
const search: EvalSearch = async (query, { k, rerank }) => {
  const clip = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l'].map((x) => `${query}-${x}`);
  if (!rerank) return { ids: clip.slice(0, k), rankedBy: 'clip', fallbackReason: 'rerank_skipped' };
  if (query === 'slow') return { ids: clip.slice(0, k), rankedBy: 'clip', fallbackReason: 'timeout' };
  return { ids: [clip[1]!, clip[0]!, ...clip.slice(2, k)], rankedBy: 'gemini' };
};

const set = [
  { query: 'cats', relevant: ['cats-b', 'cats-e', 'cats-z'] },
  { query: 'slow', relevant: ['slow-a'] },
];

describe('eval runner', () => {
  it('scores every query and averages', async () => {
    const seen: number[] = [];
    const r = await runEval({ set, search, rerank: false, onQuery: (done) => seen.push(done) });
    expect(seen).toEqual([1, 2]);
    expect(r.queries).toBe(2);
    const cats = r.perQuery[0]!;
    // cats: relevant at ranks 2 and 5 of 10, one never retrieved.
    expect(cats.precisionAt4).toBe(0.25);
    expect(cats.recallAtK).toBeCloseTo(2 / 3, 12);
    expect(cats.ndcgAt4).toBeCloseTo(1 / Math.log2(3) / (1 + 1 / Math.log2(3) + 1 / 2), 12);
    expect(cats.mrr).toBe(0.5);
    expect(r.metrics.mrr).toBe((0.5 + 1) / 2);
    expect(r.metrics.precisionAt4).toBe((0.25 + 0.25) / 2);
  });

  it('counts how many queries Gemini really ranked', async () => {
    const r = await runEval({ set, search, rerank: true });
    expect(r.rankedByGemini).toBe(1);
    // Gemini moved cats-b to the top: MRR 1 now.
    expect(r.perQuery[0]!.mrr).toBe(1);
    expect(reportJson(r)).toMatchObject({
      queries: 2,
      rankedBy: { gemini: 1, clip: 1 },
      perQuery: [
        { query: 'cats', rankedBy: 'gemini' },
        { query: 'slow', fallbackReason: 'timeout' },
      ],
    });
  });

  it('prints JSON in the documented shape', async () => {
    const r = await runEval({ set, search, rerank: false, k: 10 });
    const json = reportJson(r) as {
      metrics: Record<string, number>;
      perQuery: Array<Record<string, unknown>>;
    };
    expect(Object.keys(json.metrics)).toEqual(['p@4', 'r@10', 'ndcg@4', 'mrr']);
    expect(Object.keys(json.perQuery[0]!)).toEqual(['query', 'p@4', 'r@10', 'ndcg@4', 'mrr', 'ids']);
    expect(json.perQuery[0]!.ids).toHaveLength(10);
    const k5 = reportJson(await runEval({ set, search, rerank: false, k: 5 })) as { metrics: object };
    expect(Object.keys(k5.metrics)).toContain('r@5');
  });

  it('prints a table with the means side by side and the worst queries', async () => {
    const clip = await runEval({ set, search, rerank: false });
    const gemini = await runEval({ set, search, rerank: true });
    const table = reportTable([
      { label: 'CLIP only', report: clip },
      { label: 'reranked', report: gemini },
    ]);
    expect(table).toMatch(/^2 queries/);
    expect(table).toMatch(/CLIP only\s+0\.250\s+0\.833\s+/);
    expect(table).toMatch(/reranked .*Gemini ranked 1\/2/);
    expect(table).toMatch(/Worst queries \(reranked\):\n {2}cats/);
  });
});

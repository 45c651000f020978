/**
 * Retrieval metrics with binary relevance, as `imagesearch eval` reports them. `ranked` is what a
 * user sees: the grid's picks first (positions 1–4), then the rest of the CLIP candidates in CLIP
 * order. Every metric is in [0, 1]; a query with no relevant ids is refused by the set loader, so the
 * denominators here are never zero for a real query (they return 0 rather than NaN if they are).
 */
import { DEFAULTS } from '../core/defaults.ts';

/** The cut-offs of the metrics: the grid shows 4, the candidate list is 10 long. */
export const GRID_SIZE = DEFAULTS.perGrid;
export const DEFAULT_K = 10;

export interface QueryMetrics {
  /** |relevant ∩ first 4| / 4. */
  precisionAt4: number;
  /** |relevant ∩ first k| / |relevant|. */
  recallAtK: number;
  /** DCG of the first 4 (gain 1 at rank i counts 1/log2(i+1)) over the ideal DCG of min(|relevant|, 4) hits. */
  ndcgAt4: number;
  /** 1 / rank of the first relevant id within the first k, else 0. */
  mrr: number;
}

/** Metrics of one ranked list against its set of relevant ids. */
export function scoreQuery(
  ranked: readonly string[],
  relevant: ReadonlySet<string>,
  k = DEFAULT_K,
): QueryMetrics {
  const hits = ranked.map((id) => relevant.has(id));
  const inFirst = (n: number) => hits.slice(0, n).filter(Boolean).length;
  const dcg = hits.slice(0, GRID_SIZE).reduce((sum, hit, i) => sum + (hit ? gain(i + 1) : 0), 0);
  let ideal = 0;
  for (let rank = 1; rank <= Math.min(relevant.size, GRID_SIZE); rank++) ideal += gain(rank);
  const first = hits.slice(0, k).indexOf(true);
  return {
    precisionAt4: inFirst(GRID_SIZE) / GRID_SIZE,
    recallAtK: relevant.size > 0 ? inFirst(k) / relevant.size : 0,
    ndcgAt4: ideal > 0 ? dcg / ideal : 0,
    mrr: first >= 0 ? 1 / (first + 1) : 0,
  };
}

/** Arithmetic mean of each metric over queries (all zero for no queries). */
export function meanMetrics(all: readonly QueryMetrics[]): QueryMetrics {
  const mean = (pick: (m: QueryMetrics) => number) =>
    all.length === 0 ? 0 : all.reduce((s, m) => s + pick(m), 0) / all.length;
  return {
    precisionAt4: mean((m) => m.precisionAt4),
    recallAtK: mean((m) => m.recallAtK),
    ndcgAt4: mean((m) => m.ndcgAt4),
    mrr: mean((m) => m.mrr),
  };
}

/** Discounted gain of a hit at 1-based `rank`. */
function gain(rank: number): number {
  return 1 / Math.log2(rank + 1);
}

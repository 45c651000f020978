/**
 * `imagesearch eval`: runs every labelled query through the same search the bot runs and scores what
 * a user would see — the grid's picks first, then the rest of the candidates in CLIP order.
 */
import type { LabelledQuery } from './labelled-set.ts';
import { DEFAULT_K, meanMetrics, type QueryMetrics, scoreQuery } from './metrics.ts';

/** One search as eval needs it: the ranked ids (picks first) and who ordered the picks. */
export interface EvalRanking {
  ids: string[];
  rankedBy: 'gemini' | 'clip';
  fallbackReason?: string;
}

export type EvalSearch = (query: string, opts: { k: number; rerank: boolean }) => Promise<EvalRanking>;

export interface EvalOptions {
  set: readonly LabelledQuery[];
  search: EvalSearch;
  k?: number;
  rerank: boolean;
  /** Told after each query (progress). */
  onQuery?: (done: number, total: number) => void;
}

export interface QueryResult extends QueryMetrics {
  query: string;
  ids: string[];
  relevant: number;
  rankedBy: 'gemini' | 'clip';
  fallbackReason?: string;
}

export interface EvalReport {
  k: number;
  rerank: boolean;
  queries: number;
  metrics: QueryMetrics;
  /** How many queries Gemini really ordered (the rest fell back to CLIP order). */
  rankedByGemini: number;
  perQuery: QueryResult[];
}

export async function runEval(opts: EvalOptions): Promise<EvalReport> {
  const k = opts.k ?? DEFAULT_K;
  const perQuery: QueryResult[] = [];
  for (const [i, q] of opts.set.entries()) {
    const r = await opts.search(q.query, { k, rerank: opts.rerank });
    const ids = r.ids.slice(0, k);
    const result: QueryResult = {
      query: q.query,
      ...scoreQuery(ids, new Set(q.relevant), k),
      ids,
      relevant: q.relevant.length,
      rankedBy: r.rankedBy,
    };
    if (r.fallbackReason) result.fallbackReason = r.fallbackReason;
    perQuery.push(result);
    opts.onQuery?.(i + 1, opts.set.length);
  }
  return {
    k,
    rerank: opts.rerank,
    queries: perQuery.length,
    metrics: meanMetrics(perQuery),
    rankedByGemini: perQuery.filter((q) => q.rankedBy === 'gemini').length,
    perQuery,
  };
}

/** Metric names as the report prints them. */
export function metricKeys(k: number) {
  return { precisionAt4: 'p@4', recallAtK: `r@${k}`, ndcgAt4: 'ndcg@4', mrr: 'mrr' } as const;
}

type MetricJson = Record<string, number>;

function metricJson(m: QueryMetrics, k: number): MetricJson {
  const keys = metricKeys(k);
  return {
    [keys.precisionAt4]: round(m.precisionAt4),
    [keys.recallAtK]: round(m.recallAtK),
    [keys.ndcgAt4]: round(m.ndcgAt4),
    [keys.mrr]: round(m.mrr),
  };
}

/** The `--json` shape: `{queries, metrics, perQuery: [{query, p@4, r@10, ndcg@4, mrr, ids}]}`. */
export function reportJson(r: EvalReport): Record<string, unknown> {
  return {
    queries: r.queries,
    metrics: metricJson(r.metrics, r.k),
    rankedBy: r.rerank
      ? { gemini: r.rankedByGemini, clip: r.queries - r.rankedByGemini }
      : { clip: r.queries },
    perQuery: r.perQuery.map((q) => ({
      query: q.query,
      ...metricJson(q, r.k),
      ids: q.ids,
      ...(r.rerank ? { rankedBy: q.rankedBy } : {}),
      ...(q.fallbackReason && r.rerank ? { fallbackReason: q.fallbackReason } : {}),
    })),
  };
}

/** The plain-text report: the means, then the worst queries (lowest NDCG@4, then P@4). */
export function reportTable(
  reports: ReadonlyArray<{ label: string; report: EvalReport }>,
  worst = 5,
): string {
  const first = reports[0]?.report;
  if (!first) return '';
  const keys = metricKeys(first.k);
  const cols = [keys.precisionAt4, keys.recallAtK, keys.ndcgAt4, keys.mrr];
  const lines = [`${first.queries} queries`, ''];
  const labelWidth = Math.max(12, ...reports.map((r) => r.label.length));
  lines.push(`${''.padEnd(labelWidth)}  ${cols.map((c) => c.padStart(7)).join('')}`);
  for (const { label, report } of reports) {
    const m = report.metrics;
    const cells = [m.precisionAt4, m.recallAtK, m.ndcgAt4, m.mrr]
      .map((v) => v.toFixed(3).padStart(7))
      .join('');
    const note =
      report.rerank && report.rankedByGemini < report.queries
        ? `   (Gemini ranked ${report.rankedByGemini}/${report.queries}; the rest fell back to CLIP order)`
        : '';
    lines.push(`${label.padEnd(labelWidth)}  ${cells}${note}`);
  }
  const last = reports.at(-1)!.report;
  const bad = [...last.perQuery]
    .sort((a, b) => a.ndcgAt4 - b.ndcgAt4 || a.precisionAt4 - b.precisionAt4 || (a.query < b.query ? -1 : 1))
    .slice(0, Math.min(worst, last.perQuery.length));
  if (bad.length > 0) {
    lines.push('', `Worst queries (${reports.at(-1)!.label}):`);
    const qWidth = Math.min(40, Math.max(...bad.map((q) => q.query.length)));
    for (const q of bad) {
      const cells = [q.precisionAt4, q.recallAtK, q.ndcgAt4, q.mrr]
        .map((v) => v.toFixed(2).padStart(7))
        .join('');
      lines.push(`  ${truncate(q.query, qWidth).padEnd(qWidth)}${cells}   ${q.relevant} relevant`);
    }
  }
  return lines.join('\n');
}

function round(v: number): number {
  return Math.round(v * 10_000) / 10_000;
}

function truncate(s: string, n: number): string {
  return s.length <= n ? s : `${s.slice(0, n - 1)}…`;
}

/**
 * `imagesearch eval`: search quality a user can measure on their own model and index. Each labelled
 * query runs through the same search pipeline the bot uses (CLIP, near-duplicate suppression, the
 * junk floor, Gemini unless --no-rerank), and the grid's picks followed by the rest of the CLIP
 * candidates are scored with P@4, R@k, NDCG@4 and MRR.
 */
import path from 'node:path';
import { type Command, InvalidArgumentError } from 'commander';
import { ImageSearchError } from '../../src/core/errors.ts';
import { type LabelledQuery, readLabelledSet, writeLabelledSet } from '../../src/eval/labelled-set.ts';
import { DEFAULT_K } from '../../src/eval/metrics.ts';
import {
  type EvalReport,
  type EvalSearch,
  reportJson,
  reportTable,
  runEval,
} from '../../src/eval/run-eval.ts';
import { buildKeywordSet } from '../../src/eval/unsplash-keywords.ts';
import { listKeywordParts, unsplashPaths } from '../../src/setup/unsplash.ts';
import { startProgress } from '../../src/util/progress.ts';
import { cleanQuery } from '../../src/util/query-text.ts';
import { type Core, createCore } from '../app/stack.ts';
import { type CliContext, positiveInt } from './context.ts';

interface EvalFlags {
  queries?: string;
  fromUnsplashKeywords?: boolean;
  keywords?: string;
  perKeywordMin: number;
  sample?: number;
  minConfidence: number;
  save?: string;
  k: number;
  rerank: boolean;
  compare?: boolean;
  json?: boolean;
  model?: string;
  index?: string;
  progress: boolean;
}

const confidence = (v: string) => {
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0 || n > 100)
    throw new InvalidArgumentError('must be a number from 0 to 100.');
  return n;
};

export function registerEvalCommand(program: Command, ctx: CliContext): void {
  program
    .command('eval')
    .description('Measure search quality on labelled queries: P@4, R@10, NDCG@4 and MRR')
    .option('--queries <file>', 'labelled queries, JSON Lines: {"query": "…", "relevant": ["id", …]}')
    .option(
      '--from-unsplash-keywords',
      'build the labelled set from the Unsplash keywords files `setup` keeps',
    )
    .option(
      '--keywords <dir>',
      'folder holding keywords.tsv000… (default IMAGESEARCH_DATA_DIR/unsplash-lite)',
    )
    .option(
      '--per-keyword-min <n>',
      'keep keywords with at least N relevant photos in the index',
      positiveInt('--per-keyword-min'),
      5,
    )
    .option('--sample <n>', 'evaluate N keywords, chosen by a fixed-seed sample', positiveInt('--sample'))
    .option('--min-confidence <n>', 'AI confidence (0–100) at which a keyword tag counts', confidence, 50)
    .option('--save <file>', 'also write the labelled set built from keywords (JSON Lines)')
    .option(
      '--k <n>',
      'candidates scored for R@k and MRR (the grid shows the first 4)',
      positiveInt('--k'),
      DEFAULT_K,
    )
    .option('--no-rerank', 'CLIP order only (no Gemini)')
    .option('--compare', 'CLIP-only and Gemini-reranked side by side (needs GEMINI_API_KEY)')
    .option('--json', 'print one JSON object')
    .option('--model <dir>', 'model directory (default IMAGESEARCH_MODEL_DIR)')
    .option('--index <dir>', 'index directory (default IMAGESEARCH_INDEX_DIR)')
    .option('--no-progress', 'no progress display')
    .action(async (o: EvalFlags) => {
      if (!o.queries === !o.fromUnsplashKeywords)
        throw new ImageSearchError(
          'usage',
          'Give exactly one of --queries FILE.jsonl or --from-unsplash-keywords.',
        );
      if (o.compare && !o.rerank)
        throw new ImageSearchError('usage', '--compare already measures CLIP order; leave out --no-rerank.');
      const config = ctx.config({
        ...(o.model ? { modelDir: path.resolve(o.model) } : {}),
        ...(o.index ? { indexDir: path.resolve(o.index) } : {}),
      });
      if (o.compare && !config.geminiApiKey)
        throw new ImageSearchError(
          'usage',
          '--compare needs GEMINI_API_KEY: without it there is only CLIP order to measure.',
        );
      // A labelled file is read before the model loads: a typo in it should not cost a model load.
      const given = o.queries ? await readLabelledSet(o.queries) : undefined;
      const logger = ctx.logger({ ...config, logLevel: 'warn' });
      const core = await createCore(config, logger, o.rerank ? {} : { rerank: false });
      try {
        const set = given ?? (await keywordSet(o, core, config.dataDir));
        if (o.save && o.fromUnsplashKeywords) await writeLabelledSet(o.save, set);
        await warnUnknownIds(set, core, ctx);
        const rerank = o.rerank && core.gemini.enabled;
        if (o.rerank && !core.gemini.enabled && !o.compare)
          ctx.err('No GEMINI_API_KEY: measuring CLIP order (add --no-rerank to say so and silence this).');
        const run = async (withGemini: boolean, label: string): Promise<EvalReport> => {
          const progress = startProgress({
            label,
            total: set.length,
            unit: 'items',
            logger,
            enabled: o.progress,
          });
          try {
            return await runEval({
              set,
              search: pipelineSearch(core),
              k: o.k,
              rerank: withGemini,
              onQuery: (done) => progress.update(done),
            });
          } finally {
            progress.stop();
          }
        };
        const reports = o.compare
          ? [
              { label: 'CLIP only', report: await run(false, 'eval (CLIP)') },
              { label: 'reranked', report: await run(true, 'eval (Gemini)') },
            ]
          : [{ label: rerank ? 'reranked' : 'CLIP only', report: await run(rerank, 'eval') }];
        if (o.json) {
          const [first, second] = reports;
          ctx.out(
            JSON.stringify(
              second
                ? {
                    queries: first!.report.queries,
                    clip: reportJson(first!.report),
                    reranked: reportJson(second.report),
                  }
                : reportJson(first!.report),
            ),
          );
        } else {
          ctx.out(`Model ${core.model.modelId}, index of ${core.index.size} photos, k = ${o.k}`);
          ctx.out(reportTable(reports));
          if (o.save && o.fromUnsplashKeywords) ctx.out(`\nLabelled set written to ${o.save}.`);
        }
      } finally {
        await core.close();
      }
    });
}

/** The pipeline as eval sees it: picks first, then the rest of the candidates in CLIP order. */
function pipelineSearch(core: Core): EvalSearch {
  return async (query, { k, rerank }) => {
    const reply = await core.search.search({
      // Labelled queries enter the core here, cleaned like every user's words.
      text: cleanQuery(query).text,
      candidates: k,
      rerank,
      compose: false,
    });
    const picks = reply.picks.map((p) => p.id);
    const rest = (reply.candidates ?? []).map((c) => c.id).filter((id) => !picks.includes(id));
    return {
      ids: [...picks, ...rest].slice(0, k),
      rankedBy: reply.rankedBy,
      ...(reply.fallbackReason ? { fallbackReason: reply.fallbackReason } : {}),
    };
  };
}

async function keywordSet(o: EvalFlags, core: Core, dataDir: string): Promise<LabelledQuery[]> {
  const dir = o.keywords ? path.resolve(o.keywords) : unsplashPaths(dataDir).tsvDir;
  const parts = await listKeywordParts(dir);
  if (parts.length === 0)
    throw new ImageSearchError(
      'usage',
      `No keywords.tsv files in ${dir}. \`npx imagesearch setup\` keeps them from the Unsplash Lite archive; after a setup made by an older version, put the archive's keywords.tsv000… there yourself, or pass --keywords DIR.`,
    );
  const built = await buildKeywordSet({
    parts,
    inIndex: async (id) => (await core.index.getEntry(id)) !== undefined,
    perKeywordMin: o.perKeywordMin,
    minConfidence: o.minConfidence,
    ...(o.sample ? { sample: o.sample } : {}),
  });
  if (built.queries.length === 0)
    throw new ImageSearchError(
      'usage',
      `No keyword in ${dir} tags at least ${o.perKeywordMin} photos of this index (${built.keywordsSeen} keywords seen). Index more photos (npx imagesearch setup --limit 5000), or lower --per-keyword-min.`,
    );
  return built.queries;
}

/** A relevant id the index does not hold can never be found: usually a typo or another index. */
async function warnUnknownIds(set: readonly LabelledQuery[], core: Core, ctx: CliContext): Promise<void> {
  let unknown = 0;
  let total = 0;
  const hopeless: string[] = [];
  for (const q of set) {
    const held = await Promise.all(q.relevant.map((id) => core.index.getEntry(id)));
    const missing = held.filter((e) => e === undefined).length;
    unknown += missing;
    total += q.relevant.length;
    if (missing === q.relevant.length) hopeless.push(q.query);
  }
  if (unknown === 0) return;
  ctx.err(
    `${unknown} of ${total} relevant ids are not in this index (a typo, or labels for another index?).`,
  );
  if (hopeless.length > 0)
    ctx.err(
      `These queries can only score 0: ${hopeless
        .slice(0, 5)
        .map((q) => `“${q}”`)
        .join(', ')}${hopeless.length > 5 ? ', …' : ''}`,
    );
}

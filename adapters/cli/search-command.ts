/**
 * `imagesearch search`: one search through the same pipeline the bot uses (it encodes the text or
 * image, ranks, draws the grid); prints the picks and, with --k, the pipeline's next candidates.
 */
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { type Command, Option } from 'commander';
import { ImageSearchError } from '../../src/core/errors.ts';
import type { SearchQuery, SearchReply } from '../../src/core/types.ts';
import { cleanQuery } from '../../src/util/query-text.ts';
import { readQueryVector } from '../app/data.ts';
import { type Core, createCore } from '../app/stack.ts';
import { abs, type CliContext, loc, positiveInt } from './context.ts';

interface SearchFlags {
  model?: string;
  index?: string;
  k: number;
  image?: string;
  vector?: string;
  out?: string;
  rerank: boolean;
  format?: 'jpeg' | 'png';
  json?: boolean;
}

interface Listed {
  id: string;
  score: number;
  rank: number;
}

/** Picks shown per grid. */
const GRID = 4;

export function registerSearchCommand(program: Command, ctx: CliContext): void {
  program
    .command('search')
    .description('Search by text or image; prints results, optionally writes the grid')
    .option('--model <dir>', 'model directory (default IMAGESEARCH_MODEL_DIR)')
    .option('--index <dir>', 'index directory or s3://bucket/prefix (default IMAGESEARCH_INDEX_DIR)')
    .option('--k <n>', 'results to print (the grid shows the first 4)', positiveInt('--k'), 4)
    .option('--image <file>', 'search with this image instead of text')
    .option('--vector <file.npy>', 'search with this embedding (a D-vector or 1×D .npy) instead of text')
    .option('--out <file>', 'write the grid image here')
    .option('--no-rerank', 'skip Gemini; CLIP order')
    .addOption(
      new Option(
        '--format <fmt>',
        'grid format (default: png for an --out ending in .png, else jpeg)',
      ).choices(['jpeg', 'png']),
    )
    .option('--json', 'print one JSON object')
    .argument('[text...]', 'the query')
    .action(async (words: string[], o: SearchFlags) => {
      // The CLI is where this query enters the core: cleaned and capped here, trusted after.
      const text = cleanQuery(words.join(' ')).text;
      const given = [text, o.image, o.vector].filter(Boolean).length;
      if (given === 0)
        throw new ImageSearchError(
          'usage',
          'Say what to look for: imagesearch search "cats on a sofa" (or --image FILE, or --vector FILE.npy).',
        );
      if (given > 1) throw new ImageSearchError('usage', 'Give one of text, --image or --vector.');
      // Read before loading anything: a bad file fails fast.
      const vector = o.vector ? await readQueryVector(o.vector) : undefined;
      const image = o.image ? await readImage(o.image) : undefined;
      const config = ctx.config({ modelDir: abs(o.model), indexDir: loc(o.index) });
      const core = await createCore(config, ctx.logger({ ...config, logLevel: 'warn' }), {
        warmVision: Boolean(o.image),
      });
      try {
        if (vector && vector.length !== core.index.dim)
          throw new ImageSearchError(
            'usage',
            `${o.vector} holds a ${vector.length}-d vector; the index at ${core.index.location} has ${core.index.dim}-d embeddings.`,
          );
        const query: SearchQuery = {
          // Without words the file name is what the caption shows; CLIP reads no text then.
          text: text || path.basename(o.image ?? o.vector ?? ''),
          ...(text ? {} : { clipText: '' }),
          want: Math.min(o.k, GRID),
          candidates: Math.max(10, o.k),
          format: o.format ?? (o.out?.toLowerCase().endsWith('.png') ? 'png' : 'jpeg'),
          ...(o.image || o.vector || !o.rerank ? { rerank: false } : {}),
        };
        if (vector) query.vector = vector;
        if (image) query.image = image;
        await report(await core.search.search(query), o, core, ctx);
      } finally {
        await core.close();
      }
    });
}

async function readImage(file: string): Promise<Buffer> {
  return readFile(file).catch((e: unknown) => {
    throw new ImageSearchError('not_found', `Can't read ${file}.`, { cause: e });
  });
}

/** Prints the reply (and writes the grid); an empty one is an error with nothing written. */
async function report(reply: SearchReply, o: SearchFlags, core: Core, ctx: CliContext): Promise<void> {
  if (reply.picks.length === 0) {
    // No grid to write (an empty file would look like a broken image) and nothing to list:
    // the printed answer and the grid must agree.
    if (o.json) ctx.out(JSON.stringify({ query: reply.query, results: [], rankedBy: reply.rankedBy }));
    throw new ImageSearchError(
      'not_found',
      `Nothing is a good enough match for "${reply.query}" (every photo scores below IMAGESEARCH_MIN_SCORE=${core.config.minScore}); no grid written.`,
    );
  }
  const results = listed(reply, o.k);
  if (o.out) await writeFile(o.out, reply.grid);
  if (o.json) {
    const obj: Record<string, unknown> = { query: reply.query, results, rankedBy: reply.rankedBy };
    if (reply.fallbackReason) obj.fallbackReason = reply.fallbackReason;
    obj.timingsMs = reply.timingsMs;
    if (o.out) obj.grid = path.resolve(o.out);
    ctx.out(JSON.stringify(obj));
    return;
  }
  ctx.out(
    `${reply.caption}  [ranked by ${reply.rankedBy}${reply.fallbackReason ? `: ${reply.fallbackReason}` : ''}]`,
  );
  for (const r of results) ctx.out(`${String(r.rank).padStart(3)}. ${r.id}  (${r.score.toFixed(3)})`);
  if (o.out) ctx.out(`Grid written to ${o.out}`);
}

/**
 * The picks in grid order, then the pipeline's other candidates best first, `k` in all: the same
 * junk floor and near-duplicate rule as the grid, so nothing is listed the grid would never show.
 */
function listed(reply: SearchReply, k: number): Listed[] {
  const results: Listed[] = reply.picks.map((p) => ({ id: p.id, score: round(p.score), rank: p.n }));
  const shown = new Set(results.map((r) => r.id));
  for (const c of reply.candidates ?? []) {
    if (results.length >= k) break;
    if (!shown.has(c.id)) results.push({ id: c.id, score: round(c.score), rank: results.length + 1 });
  }
  return results;
}

function round(x: number): number {
  return Math.round(x * 1e6) / 1e6;
}

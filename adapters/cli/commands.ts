import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { buildBatchSize } from '../../src/clip/providers.ts';
import { ClipTokenizer } from '../../src/clip/tokenizer.ts';
import { ImageSearchError } from '../../src/core/errors.ts';
import { LocalAndRemoteImageStore } from '../../src/images/image-store.ts';
import { buildIndex } from '../../src/index/build.ts';
import { ENGINES, type EngineName } from '../../src/index/engines/types.ts';
import { importNpy } from '../../src/index/import-npy.ts';
import { readNpyVector } from '../../src/index/npy.ts';
import { runSetup } from '../../src/setup/setup.ts';
import { type Config, loadConfig, resolveLocation } from '../../src/util/config.ts';
import { createLogger, type Logger } from '../../src/util/logger.ts';
import { stripUndefined } from '../../src/util/objects.ts';
import { cleanQuery } from '../../src/util/query-text.ts';
import { l2normalize } from '../../src/vector/math.ts';
import { createCore, loadModel } from '../app/stack.ts';

/** Shared by every command: configuration from env (+ .env) with command-line overrides. */
export interface CliContext {
  config(overrides?: { [K in keyof Config]?: Config[K] | undefined }): Config;
  logger(config?: Config): Logger;
  out(line: string): void;
  /** Warnings and notes for the person at the terminal (stderr), apart from results. */
  err(line: string): void;
}

export function defaultCliContext(): CliContext {
  return {
    config: (overrides = {}) => ({ ...loadConfig(), ...(stripUndefined(overrides) as Partial<Config>) }),
    // Commands print results on stdout; logs (stderr) stay quiet unless LOG_LEVEL asks for more.
    logger: (config) => createLogger({ level: config?.explicitLogLevel ?? config?.logLevel ?? 'warn' }),
    out: (line) => process.stdout.write(`${line}\n`),
    err: (line) => process.stderr.write(`${line}\n`),
  };
}

export const positiveInt = (what: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError(`${what} must be a positive integer.`);
  return n;
};

const abs = (p: string | undefined) => (p ? path.resolve(p) : undefined);
/** An index location: a folder made absolute, or an s3:// URI as written. */
const loc = (p: string | undefined) => (p ? resolveLocation(p) : undefined);

const engineOption = () =>
  new Option(
    '--engine <engine>',
    'flat (exact, default) | int8 (exact, compressed) | lancedb (ANN, object storage)',
  ).choices(ENGINES);
const annMinRowsOption = () =>
  new Option(
    '--ann-min-rows <n>',
    'lancedb: build the ANN index from this many rows on (default 10000)',
  ).argParser(positiveInt('--ann-min-rows'));

/** Registers the data commands (no chat platform involved): tokenize, index, import-npy, search, setup. */
export function registerDataCommands(program: Command, ctx: CliContext): void {
  program
    .command('tokenize')
    .description('Print CLIP token ids for each text (start/end tokens included, unpadded)')
    .option('--model <dir>', 'model directory (default IMAGESEARCH_MODEL_DIR)')
    .option('--json', 'one JSON object per line (the default output)')
    .argument('<text...>', 'texts to tokenize')
    .action(async (texts: string[], o: { model?: string }) => {
      const config = ctx.config({ modelDir: abs(o.model) });
      const tok = await ClipTokenizer.fromDir(config.modelDir).catch((e: unknown) => {
        throw e instanceof ImageSearchError && e.code === 'model_invalid'
          ? new ImageSearchError(
              'model_missing',
              `No tokenizer.json in ${config.modelDir}. Run \`npx imagesearch setup\` or pass --model DIR (a CLIP model folder).`,
            )
          : e;
      });
      for (const text of texts) ctx.out(JSON.stringify({ text, ids: tok.encode(text) }));
    });

  program
    .command('index')
    .description(
      'Build or update an index from a folder of images or a manifest (CSV/TSV, Unsplash photos.tsv000)',
    )
    .option('--model <dir>', 'model directory (default IMAGESEARCH_MODEL_DIR)')
    .requiredOption('--out <dir>', 'index directory to write, or s3://bucket/prefix (lancedb)')
    .option('--images <dir>', 'folder of images (searched recursively)')
    .option('--manifest <file>', 'CSV/TSV with id + path or url')
    .addOption(engineOption())
    .addOption(annMinRowsOption())
    .option('--batch <n>', 'images per model call', positiveInt('--batch'))
    .option(
      '--allow-absolute-paths',
      'take absolute paths from the manifest, and let the bot open them (default: paths relative to the manifest folder, never leaving it)',
    )
    .option('--no-progress', 'no progress bar')
    .action(
      async (o: {
        model?: string;
        out: string;
        images?: string;
        manifest?: string;
        engine?: EngineName;
        annMinRows?: number;
        batch?: number;
        allowAbsolutePaths?: boolean;
        progress: boolean;
      }) => {
        if (!o.images === !o.manifest)
          throw new ImageSearchError('usage', 'Give exactly one of --images DIR or --manifest FILE.');
        const config = ctx.config({ modelDir: abs(o.model) });
        const logger = ctx.logger(config);
        const model = await loadModel(config, logger);
        await model.warm(['vision']);
        const provider = (await model.providers()).vision ?? 'cpu';
        // Remote images (URL manifests) come through an image store allowed the manifest's own hosts.
        let store: LocalAndRemoteImageStore | undefined;
        const fetchImage = (e: { id: string; url?: string | undefined }, hosts: readonly string[]) => {
          store ??= new LocalAndRemoteImageStore({
            allowedHosts: [...hosts, ...config.imageHosts],
            trustedHosts: config.imageHosts,
            logger,
          });
          return store.get(e.url ? { id: e.id, url: e.url } : { id: e.id }, 640);
        };
        const report = await buildIndex({
          embedder: model,
          outDir: resolveLocation(o.out),
          ...(o.engine ? { engine: o.engine } : {}),
          ...(o.annMinRows ? { annMinRows: o.annMinRows } : {}),
          source: o.images ? { kind: 'images', dir: o.images } : { kind: 'manifest', file: o.manifest! },
          batchSize: o.batch ?? buildBatchSize(provider),
          logger,
          progress: o.progress,
          fetchImage,
          allowAbsolutePaths: o.allowAbsolutePaths === true,
        });
        await model.close();
        ctx.out(
          `Indexed ${report.total} images into ${report.outDir} [${report.engine}] (${report.added} new, ${report.reused} unchanged, ${report.removed} removed, ${report.skipped.length} skipped${report.resumed ? ', resumed' : ''}).`,
        );
        for (const s of report.skipped.slice(0, 10)) ctx.out(`  skipped ${s.id}: ${s.reason}`);
        if (report.skipped.length > 10) ctx.out(`  … see ${path.join(report.outDir, 'skipped.jsonl')}`);
      },
    );

  program
    .command('import-npy')
    .description("Import the prototype's features.npy + photo_ids.csv as an index")
    .requiredOption('--features <file>', 'N×D float16/float32 .npy')
    .requiredOption('--ids <file>', 'photo_ids.csv (header photo_id)')
    .option('--manifest <file>', 'Unsplash photos.tsv000 or a manifest, for URLs and credits')
    .option('--model-id <id>', 'model the features came from', 'openai/clip-vit-base-patch32')
    .requiredOption('--out <dir>', 'index directory to write, or s3://bucket/prefix (lancedb)')
    .addOption(engineOption())
    .addOption(annMinRowsOption())
    .option('--no-progress', 'no progress bar')
    .action(
      async (o: {
        features: string;
        ids: string;
        manifest?: string;
        modelId: string;
        out: string;
        engine?: EngineName;
        annMinRows?: number;
        progress: boolean;
      }) => {
        const config = ctx.config();
        const logger = ctx.logger({ ...config, logLevel: o.progress ? 'info' : config.logLevel });
        const out = resolveLocation(o.out);
        const result = await importNpy({
          features: o.features,
          ids: o.ids,
          outDir: out,
          modelId: o.modelId,
          logger,
          progress: o.progress,
          ...(o.engine ? { engine: o.engine } : {}),
          ...(o.annMinRows ? { annMinRows: o.annMinRows } : {}),
          ...(o.manifest ? { manifest: o.manifest } : {}),
        });
        ctx.out(
          `Imported ${result.count} vectors into ${out} [${o.engine ?? 'flat'}] (${result.withMetadata} with image URLs or paths${result.resumedRows ? `; resumed after ${result.resumedRows} rows` : ''}).`,
        );
      },
    );

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
    .addOption(new Option('--format <fmt>', 'grid format').choices(['jpeg', 'png']).default('jpeg'))
    .option('--json', 'print one JSON object')
    .argument('[text...]', 'the query')
    .action(
      async (
        words: string[],
        o: {
          model?: string;
          index?: string;
          k: number;
          image?: string;
          vector?: string;
          out?: string;
          rerank: boolean;
          json?: boolean;
        },
      ) => {
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
        const rawVector = o.vector ? await readNpyVector(o.vector) : undefined;
        const config = ctx.config({ modelDir: abs(o.model), indexDir: loc(o.index) });
        const logger = ctx.logger({ ...config, logLevel: 'warn' });
        const core = await createCore(config, logger, { warmVision: Boolean(o.image) });
        try {
          let vector: Float32Array | undefined;
          let encodeMs = 0;
          if (rawVector) {
            if (rawVector.length !== core.index.dim)
              throw new ImageSearchError(
                'usage',
                `${o.vector} holds a ${rawVector.length}-d vector; the index at ${core.index.location} has ${core.index.dim}-d embeddings.`,
              );
            vector = l2normalize(rawVector);
          } else if (o.image) {
            const bytes = await readFile(o.image).catch((e: unknown) => {
              throw new ImageSearchError('not_found', `Can't read ${o.image}.`, { cause: e });
            });
            const t = performance.now();
            vector = await core.search.embedImage(bytes);
            encodeMs = performance.now() - t;
          }
          const want = Math.min(o.k, 4);
          const reply = await core.search.search({
            text: text || path.basename(o.image ?? o.vector ?? ''),
            ...(vector ? { vector } : {}),
            want,
            candidates: Math.max(10, o.k),
            ...(o.image || o.vector || !o.rerank ? { rerank: false } : {}),
          });
          if (vector) reply.timingsMs.encode = Math.round(encodeMs * 100) / 100;
          if (reply.picks.length === 0) {
            // No grid to write (an empty file would look like a broken image) and nothing to list:
            // the printed answer and the grid must agree.
            if (o.json)
              ctx.out(JSON.stringify({ query: reply.query, results: [], rankedBy: reply.rankedBy }));
            throw new ImageSearchError(
              'not_found',
              `Nothing is a good enough match for "${reply.query}" (every photo scores below IMAGESEARCH_MIN_SCORE=${config.minScore}); no grid written.`,
            );
          }
          const results = reply.picks.map((p) => ({ id: p.id, score: round(p.score), rank: p.n }));
          if (o.k > results.length && results.length === want) {
            const q = vector ?? (await core.search.embedText(text));
            const shown = new Set(results.map((r) => r.id));
            const more = await core.index.search(q, o.k - results.length, { exclude: shown });
            // The same junk floor as the grid: what the grid would never show is not listed either.
            for (const h of more.filter((m) => m.score >= config.minScore))
              results.push({ id: h.id, score: round(h.score), rank: results.length + 1 });
          }
          if (o.out) await writeFile(o.out, reply.grid);
          if (o.json) {
            const obj: Record<string, unknown> = { query: reply.query, results, rankedBy: reply.rankedBy };
            if (reply.fallbackReason) obj.fallbackReason = reply.fallbackReason;
            obj.timingsMs = reply.timingsMs;
            if (o.out) obj.grid = path.resolve(o.out);
            ctx.out(JSON.stringify(obj));
          } else {
            ctx.out(
              `${reply.caption}  [ranked by ${reply.rankedBy}${reply.fallbackReason ? `: ${reply.fallbackReason}` : ''}]`,
            );
            for (const r of results)
              ctx.out(`${String(r.rank).padStart(3)}. ${r.id}  (${r.score.toFixed(3)})`);
            if (o.out) ctx.out(`Grid written to ${o.out}`);
          }
        } finally {
          await core.close();
        }
      },
    );

  program
    .command('setup')
    .description('Download the CLIP model and build the Unsplash Lite index (resumable)')
    .option('--limit <n>', 'photos to index', positiveInt('--limit'))
    .option('--full', 'index the whole dataset (~25K photos)')
    .option('--no-progress', 'no progress bars')
    .action(async (o: { limit?: number; full?: boolean; progress: boolean }) => {
      const config = ctx.config();
      const logger = ctx.logger({ ...config, logLevel: config.logLevel });
      const controller = new AbortController();
      const stop = () =>
        controller.abort(new ImageSearchError('internal', 'Setup interrupted; run it again to continue.'));
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      try {
        const r = await runSetup({
          config,
          logger,
          limit: o.limit,
          full: o.full,
          progress: o.progress,
          signal: controller.signal,
          hfToken: config.hfToken,
        });
        ctx.out(`Model ready in ${r.model.dir}.`);
        if (r.index) ctx.out(`Index ready in ${r.index.dir}.`);
      } finally {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
      }
    });
}

function round(x: number): number {
  return Math.round(x * 1e6) / 1e6;
}

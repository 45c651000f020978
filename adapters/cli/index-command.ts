/** `imagesearch index`: build or update an index from a folder of images or a manifest. */
import path from 'node:path';
import type { Command } from 'commander';
import { ImageSearchError } from '../../src/core/errors.ts';
import { photoAccess } from '../../src/index/photo-folder.ts';
import { resolveLocation } from '../../src/util/config.ts';
import { buildConfiguredIndex, type EngineName } from '../app/data.ts';
import { abs, annMinRowsOption, type CliContext, engineOption, positiveInt } from './context.ts';

interface IndexFlags {
  model?: string;
  out: string;
  images?: string;
  manifest?: string;
  engine?: EngineName;
  annMinRows?: number;
  batch?: number;
  allowAbsolutePaths?: boolean;
  progress: boolean;
}

export function registerIndexCommand(program: Command, ctx: CliContext): void {
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
    .action(async (o: IndexFlags) => {
      if (!o.images === !o.manifest)
        throw new ImageSearchError('usage', 'Give exactly one of --images DIR or --manifest FILE.');
      const config = ctx.config({ modelDir: abs(o.model) });
      const report = await buildConfiguredIndex(config, ctx.logger(config), {
        outDir: resolveLocation(o.out),
        source: o.images ? { kind: 'images', dir: o.images } : { kind: 'manifest', file: o.manifest! },
        engine: o.engine,
        annMinRows: o.annMinRows,
        batchSize: o.batch,
        allowAbsolutePaths: o.allowAbsolutePaths,
        progress: o.progress,
      });
      ctx.out(
        `Indexed ${report.total} images into ${report.outDir} [${report.engine}] (${report.added} new, ${report.reused} unchanged, ${report.removed} removed, ${report.skipped.length} skipped${report.resumed ? ', resumed' : ''}${report.added > 0 ? `; ${report.imagesPerSec.toFixed(1)} images/s` : ''}).`,
      );
      // The bot serves local photos only from inside IMAGES_DIR (src/index/photo-folder.ts): say
      // now what to set, rather than let `serve` refuse this index later.
      const photos = o.images ?? path.dirname(o.manifest!);
      try {
        photoAccess(
          { allowedDir: config.imagesDir, allowAbsolutePaths: config.allowAbsoluteImagePaths },
          { imagesRoot: path.resolve(photos), allowAbsolutePaths: o.allowAbsolutePaths },
        );
      } catch {
        const needs = [`IMAGES_DIR=${path.resolve(photos)}`];
        if (o.allowAbsolutePaths && !config.allowAbsoluteImagePaths)
          needs.push('ALLOW_ABSOLUTE_IMAGE_PATHS=true');
        ctx.out(
          `To serve these photos, set ${needs.join(' and ')} (the bot serves local photos only from where you allow).`,
        );
      }
      for (const s of report.skipped.slice(0, 10)) ctx.out(`  skipped ${s.id}: ${s.reason}`);
      if (report.skipped.length > 10) ctx.out(`  … see ${path.join(report.outDir, 'skipped.jsonl')}`);
    });
}

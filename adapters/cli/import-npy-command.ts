/** `imagesearch import-npy`: the prototype's features.npy + photo_ids.csv as an index. */
import type { Command } from 'commander';
import { resolveLocation } from '../../src/util/config.ts';
import { type EngineName, importEmbeddings } from '../app/data.ts';
import { annMinRowsOption, type CliContext, engineOption } from './context.ts';

interface ImportFlags {
  features: string;
  ids: string;
  manifest?: string;
  modelId: string;
  out: string;
  engine?: EngineName;
  annMinRows?: number;
  progress: boolean;
}

export function registerImportNpyCommand(program: Command, ctx: CliContext): void {
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
    .action(async (o: ImportFlags) => {
      const config = ctx.config();
      const logger = ctx.logger({ ...config, logLevel: o.progress ? 'info' : config.logLevel });
      const out = resolveLocation(o.out);
      const result = await importEmbeddings({
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
    });
}

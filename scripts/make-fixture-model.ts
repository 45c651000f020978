/**
 * `npm run make-fixture-model -- --out DIR --preset tiny|vit-b-32 [--seed N] [--variants fp32,fp16,quantized]`
 * Writes a CLIP model directory with seeded random weights (see scripts/fixture-model/generate.ts).
 */
import path from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { makeFixtureModel, type Preset } from './fixture-model/generate.ts';
import type { Variant } from './fixture-model/graph-builder.ts';
import { CLIP_FIXTURES_DIR } from './fixture-paths.ts';

const defaultClipFiles = CLIP_FIXTURES_DIR;

const program = new Command('make-fixture-model')
  .description('Generate a CLIP model directory (HF export layout) with seeded random weights')
  .requiredOption('--out <dir>', 'output directory')
  .addOption(new Option('--preset <preset>', 'model size').choices(['tiny', 'vit-b-32']).default('tiny'))
  .option(
    '--seed <n>',
    'random seed',
    (v) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('must be a non-negative integer');
      return n;
    },
    1,
  )
  .option('--variants <list>', 'comma-separated: fp32,fp16,quantized', 'fp32,fp16,quantized')
  .option('--clip-files <dir>', 'folder with the real tokenizer/config files', defaultClipFiles)
  .action(
    async (opts: { out: string; preset: Preset; seed: number; variants: string; clipFiles: string }) => {
      const variants = opts.variants.split(',').map((v) => v.trim()) as Variant[];
      for (const v of variants) {
        if (!['fp32', 'fp16', 'quantized'].includes(v)) program.error(`unknown variant "${v}"`);
      }
      const started = Date.now();
      const id = await makeFixtureModel({
        out: path.resolve(opts.out),
        preset: opts.preset,
        seed: opts.seed,
        variants,
        clipFilesDir: opts.clipFiles,
        onProgress: (m) => process.stderr.write(`  writing ${m}\n`),
      });
      process.stderr.write(`Wrote ${id} to ${opts.out} in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
    },
  );

await program.parseAsync();

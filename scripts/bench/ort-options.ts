/**
 * `npm run bench -- --ort-options`: the onnxruntime CPU options that matter for CLIP, each tried
 * alone against the defaults (src/clip/providers.ts ENCODER_SESSION_OPTIONS), in one run: graph
 * optimisation level, intra-op threads, parallel execution with inter-op threads, the memory arena,
 * the quantized model file; then the image batch size with the defaults. Text: p50 of short
 * queries; images: images/s at batch 16, preprocessing included. docs/benchmarks.md keeps the table.
 */
import type * as ort from 'onnxruntime-node';
import { ClipModel, type ModelVariant } from '../../src/clip/clip-model.ts';
import { silentLogger } from '../../src/util/logger.ts';

interface Trial {
  name: string;
  tuning?: Partial<ort.InferenceSession.SessionOptions>;
  variant?: Exclude<ModelVariant, 'auto'>;
}

const TRIALS: Trial[] = [
  { name: 'defaults' },
  { name: 'graph optimisation basic', tuning: { graphOptimizationLevel: 'basic' } },
  { name: 'graph optimisation extended', tuning: { graphOptimizationLevel: 'extended' } },
  { name: 'intra-op threads 1', tuning: { intraOpNumThreads: 1 } },
  { name: 'intra-op threads 4 (2× cores)', tuning: { intraOpNumThreads: 4 } },
  { name: 'parallel execution, inter-op 2', tuning: { executionMode: 'parallel', interOpNumThreads: 2 } },
  { name: 'memory arena off', tuning: { enableCpuMemArena: false, enableMemPattern: false } },
  { name: 'quantized model file (int8 weights)', variant: 'quantized' },
];

const QUERIES = ['cats on a sofa', 'a red car', 'mountain lake at sunrise', 'a dog in the snow'];

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}
const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;

export async function sweepOrtOptions(
  modelDir: string,
  images: Buffer[],
  opts: { rounds: number; say: (m: string) => void },
): Promise<Record<string, unknown>> {
  const logger = silentLogger();
  const rows: Record<string, unknown>[] = [];
  let batchSizes: Record<string, number> = {};
  for (const trial of TRIALS) {
    opts.say(`ORT options: ${trial.name}…`);
    const model = await ClipModel.load({
      dir: modelDir,
      variant: trial.variant ?? 'fp32',
      provider: 'cpu',
      logger,
      ...(trial.tuning ? { tuning: trial.tuning } : {}),
    });
    try {
      await model.warm();
      await model.embedTexts(['warm up']);
      await model.embedImages(images.slice(0, 16));
      const text: number[] = [];
      for (let r = 0; r < opts.rounds * 3; r++)
        for (const q of QUERIES) {
          const t = performance.now();
          await model.embedTexts([`${q} ${r}`]);
          text.push(performance.now() - t);
        }
      let t = performance.now();
      for (let r = 0; r < opts.rounds; r++) await model.embedImages(images.slice(0, 16));
      const imagesPerSec = (opts.rounds * 16) / ((performance.now() - t) / 1000);
      rows.push({ trial: trial.name, textP50Ms: round(median(text), 2), imagesPerSec: round(imagesPerSec) });
      if (trial.name === 'defaults') {
        for (const b of [1, 4, 8, 16, 32]) {
          const n = Math.max(b, 16 * opts.rounds);
          const batch = Array.from({ length: b }, (_, i) => images[i % images.length]!);
          t = performance.now();
          for (let done = 0; done < n; done += b) await model.embedImages(batch);
          batchSizes = { ...batchSizes, [`batch${b}`]: round(n / ((performance.now() - t) / 1000)) };
        }
      }
    } finally {
      await model.close();
    }
  }
  return { trials: rows, imagesPerSecByBatch: batchSizes };
}

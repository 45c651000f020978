/**
 * One index build in its own process (photos.ts runs it), so the peak RSS it prints is the build's:
 *
 *   build-worker.ts MODEL_DIR IMAGES_DIR OUT_DIR   → {images, imagesPerSec, seconds, maxRssMb, skipped}
 */
import { rmSync } from 'node:fs';
import { ClipModel } from '../../src/clip/clip-model.ts';
import { buildIndex } from '../../src/index/build.ts';
import { silentLogger } from '../../src/util/logger.ts';

const [modelDir, imagesDir, outDir] = process.argv.slice(2) as [string, string, string];
const logger = silentLogger();
rmSync(outDir, { recursive: true, force: true });
const model = await ClipModel.load({ dir: modelDir, variant: 'fp32', provider: 'cpu', logger });
await model.warm(['vision']);
const report = await buildIndex({
  embedder: model,
  outDir,
  source: { kind: 'images', dir: imagesDir },
  batchSize: 16,
  logger,
  progress: false,
});
await model.close();
rmSync(outDir, { recursive: true, force: true });
process.stdout.write(
  `${JSON.stringify({
    images: report.added,
    imagesPerSec: report.imagesPerSec,
    seconds: Math.round(report.embedMs / 100) / 10,
    maxRssMb: Math.round(process.resourceUsage().maxRSS / 1024),
    skipped: report.skipped.length,
  })}\n`,
);
process.exit(0);

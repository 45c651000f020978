/**
 * Grid compose benchmark: four 640-px JPEGs (what the image store's cache hands the renderer)
 * into one numbered 2x2 grid with a footer, as a search reply does.
 *
 *   node bin/run-script.js scripts/bench/grid-bench.ts [iterations] [--no-footer]
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import sharp from 'sharp';
import type { GridTile } from '../../src/core/types.ts';
import { SharpGridRenderer } from '../../src/grid/grid-renderer.ts';
import { IMAGES_DIR } from '../fixture-paths.ts';

const FIXTURES = [
  'cat_chelsea.png',
  'rocket_launchpad.jpg',
  'astronaut_portrait.jpg',
  'brick_pavement_bw.png',
];

/** Options of {@link benchGrid}. */
export interface GridBenchOptions {
  iterations: number;
  /** Render the query/credits footer too (default true: replies carry one). */
  footer?: boolean;
  /** Folder of the source photos; default `test/fixtures/images`. */
  imagesDir?: string;
}

async function inputs(imagesDir: string): Promise<GridTile[]> {
  return Promise.all(
    FIXTURES.map(async (f, i) => ({
      n: i + 1,
      // Upscaled where the fixture is small, so every input really is 640 px wide like a cached thumbnail.
      image: await sharp(readFileSync(path.join(imagesDir, f)))
        .resize({ width: 640 })
        .jpeg({ quality: 85 })
        .toBuffer(),
    })),
  );
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

/** Milliseconds per grid (p50, p95) after a short warm-up, and the size of the last grid. */
export async function benchGrid(
  opts: GridBenchOptions,
): Promise<{ p50: number; p95: number; bytes: number }> {
  const imagesDir = opts.imagesDir ?? IMAGES_DIR;
  const tiles = await inputs(imagesDir);
  const renderer = new SharpGridRenderer();
  const footer =
    opts.footer === false
      ? []
      : ['cats on a sofa', 'Photos: 1 Jane Doe · 2 John Roe · 3 Ana Lima · 4 Kenji Sato · Unsplash'];
  let bytes = 0;
  // Warm-up: first renders pay for font loading and badge rasterising, which are cached afterwards.
  for (let i = 0; i < 3; i++) await renderer.render(tiles, { footer });
  const times: number[] = [];
  for (let i = 0; i < opts.iterations; i++) {
    const t0 = performance.now();
    const grid = await renderer.render(tiles, { footer });
    times.push(performance.now() - t0);
    bytes = grid.bytes.length;
  }
  times.sort((a, b) => a - b);
  return { p50: percentile(times, 50), p95: percentile(times, 95), bytes };
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const iterations = Number(process.argv.find((a) => /^\d+$/.test(a)) ?? 30);
  const footer = !process.argv.includes('--no-footer');
  const r = await benchGrid({ iterations, footer });
  process.stdout.write(
    `${JSON.stringify({ iterations, footer, sharpConcurrency: sharp.concurrency(), ...r, p50: +r.p50.toFixed(1), p95: +r.p95.toFixed(1) })}\n`,
  );
}

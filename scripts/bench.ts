/**
 * `npm run bench [-- --json] [-- --quick] [-- --skip-1m] [-- --scale-only] [-- --scale-rows N] [-- --no-reuse]
 *                [-- --busy N] [-- --ort-options]`
 *
 * CI runs `--quick --skip-1m` (a few minutes): it must finish and print; its targets are informational.
 * `--busy N` runs N spinning threads beside everything, as neighbours on a shared machine would.
 * `--ort-options` adds the onnxruntime option sweep (scripts/bench/ort-options.ts).
 *
 * Speed and memory targets live here, never in timed unit tests. Every comparison (real length vs
 * padded, ORT vs plain JS) is measured in the same run, because these machines are noisy: read the
 * medians and the ratios. Uses the full-size ViT-B/32 fixture model (random weights, real FLOPs),
 * generated once into data/bench/ by a child process so its memory does not count here.
 *
 * The scale section (scripts/bench/scale-bench.ts) compares the engines at 1M × 512 clustered rows:
 * fp32 exact (flat), int8, lancedb, and numpy as the peer — each built and served in its own process.
 * Indexes built by an earlier run of the same matrix are reused (--no-reuse rebuilds them).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import sharp from 'sharp';
import { ClipModel } from '../src/clip/clip-model.ts';
import { ENCODER_SESSION_OPTIONS } from '../src/clip/providers.ts';
import { SharpGridRenderer } from '../src/grid/grid-renderer.ts';
import { LocalAndRemoteImageStore } from '../src/images/image-store.ts';
import { buildIndex } from '../src/index/build.ts';
import { FlatVectorIndex } from '../src/index/vector-index.ts';
import { writeIndex } from '../src/index/writer.ts';
import { GeminiClient } from '../src/rerank/gemini-client.ts';
import { GeminiReranker } from '../src/rerank/gemini-reranker.ts';
import { SearchPipeline } from '../src/search/search-service.ts';
import { silentLogger } from '../src/util/logger.ts';
import { FlatSearcher, topKPlain } from '../src/vector/flat-search.ts';
import { l2normalize } from '../src/vector/math.ts';
import { estimateRequestTokens, startGeminiPeer } from '../test/peers/gemini-peer.ts';
import { startBusy } from './bench/busy.ts';
import { flatVsNumpy } from './bench/flat-vs-numpy.ts';
import { geminiCostSection } from './bench/gemini-cost.ts';
import { benchGrid } from './bench/grid-bench.ts';
import { sweepOrtOptions } from './bench/ort-options.ts';
import { encoderFlops, measurePeak } from './bench/peak.ts';
import { buildInChild, makePhotoSets } from './bench/photos.ts';
import { benchScale } from './bench/scale-bench.ts';
import { benchSlackAck } from './bench/slack-ack-bench.ts';

const program = new Command('bench')
  .option('--json', 'print one JSON object')
  .option('--quick', 'fewer iterations')
  .option('--skip-1m', 'skip the 1M-row engine comparison (~4 GB disk, ~2.5 GB RAM, minutes to build)')
  .option('--scale-only', 'run only the engine comparison at scale')
  .option('--scale-rows <n>', 'rows for the engine comparison', (v: string) => Number(v), 1_000_000)
  .option('--no-reuse', 'rebuild the scale indexes even if an earlier run left them')
  .option('--dir <dir>', 'where to keep the generated model and images', 'data/bench')
  .option('--busy <n>', 'spinning threads beside the bot for the whole run', (v: string) => Number(v), 0)
  .option('--ort-options', 'also sweep the onnxruntime CPU session options')
  .parse();
const opts = program.opts<{
  json?: boolean;
  quick?: boolean;
  skip1m?: boolean;
  scaleOnly?: boolean;
  scaleRows: number;
  reuse: boolean;
  dir: string;
  busy: number;
  ortOptions?: boolean;
}>();
const say = (m: string) => {
  if (!opts.json) process.stderr.write(`${m}\n`);
};
const logger = silentLogger();
const N = (full: number, quick: number) => (opts.quick ? quick : full);

function stats(samples: number[]): { p50: number; p95: number; n: number } {
  const s = [...samples].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
  return { p50: round(at(0.5)), p95: round(at(0.95)), n: s.length };
}
function round(x: number, d = 2): number {
  return Math.round(x * 10 ** d) / 10 ** d;
}
async function time<T>(fn: () => Promise<T>): Promise<[number, T]> {
  const t = performance.now();
  const r = await fn();
  return [performance.now() - t, r];
}
const rssMb = () => round(process.memoryUsage().rss / 2 ** 20, 0);
const maxRssMb = () => round(process.resourceUsage().maxRSS / 1024, 0);

function randomUnitRows(rows: number, dim: number, seed: number): Float32Array {
  const m = new Float32Array(rows * dim);
  let s = seed >>> 0;
  for (let i = 0; i < m.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    m[i] = s / 4294967296 - 0.5;
  }
  for (let r = 0; r < rows; r++) l2normalize(m.subarray(r * dim, (r + 1) * dim));
  return m;
}

const QUERIES = [
  'cats on a sofa',
  'a red car',
  'mountain lake at sunrise',
  'black and white portrait',
  'people laughing at dinner',
  'a dog in the snow',
  'city skyline at night',
  'fresh fruit on a table',
  'surfer riding a big wave',
  'old wooden boat',
  'coffee cup on a desk',
  'foggy forest path',
  'children playing football',
  'a bowl of ramen',
  'desert road trip',
  'flowers in a vase',
  'a cat sleeping',
  'rainy street with umbrellas',
  'hot air balloons',
  'a bicycle against a wall',
];

const results: Record<string, unknown> = {
  machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model, node: process.version },
  // The machine is shared: its load before the run says how much of it the figures had.
  loadAverage: os.loadavg().map((l) => round(l)),
};
const busy = opts.busy > 0 ? startBusy(opts.busy) : undefined;
if (busy) results.busyThreads = busy.threads;

// ---------------------------------------------------------------------------------------------
const benchDir = path.resolve(opts.dir);
async function scaleSection(): Promise<Record<string, unknown>> {
  return benchScale({ rows: opts.scaleRows, queries: N(200, 50), dir: benchDir, reuse: opts.reuse, say });
}
if (opts.scaleOnly) {
  results.scale = await scaleSection();
  results.loadAverageAfter = os.loadavg().map((l) => round(l));
  process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
  mkdirSync(benchDir, { recursive: true });
  await writeFile(path.join(benchDir, 'last-scale-bench.json'), JSON.stringify(results, null, 2));
  process.exit(0);
}
const modelDir = path.join(benchDir, 'clip-vit-b-32-seed1');
if (!existsSync(path.join(modelDir, 'onnx', 'vision_model.onnx'))) {
  say('Generating the ViT-B/32 fixture model (once)…');
  execFileSync(
    process.execPath,
    [
      'bin/run-script.js',
      'scripts/make-fixture-model.ts',
      '--out',
      modelDir,
      '--preset',
      'vit-b-32',
      '--variants',
      'fp32',
    ],
    {
      stdio: opts.json ? 'ignore' : 'inherit',
    },
  );
}
const imagesDir = path.join(benchDir, 'images');
mkdirSync(imagesDir, { recursive: true });
const photos: string[] = [];
for (let i = 0; i < 64; i++) {
  const file = path.join(imagesDir, `photo-${String(i).padStart(3, '0')}.jpg`);
  photos.push(file);
  if (existsSync(file)) continue;
  const noise = Buffer.alloc(160 * 120 * 3);
  for (let j = 0; j < noise.length; j++) noise[j] = (j * 7 + i * 31 + ((j * i) % 13)) & 255;
  await sharp(noise, { raw: { width: 160, height: 120, channels: 3 } })
    .resize(640, 480)
    .jpeg({ quality: 85 })
    .toFile(file);
}

say('Loading the model…');
const model = await ClipModel.load({ dir: modelDir, variant: 'fp32', provider: 'cpu', logger });
await model.warm();
await model.embedTexts(['warm up']);

// The machine's own peak, now, with the encoders' session options: the MatMul of a ViT-B/32 MLP at
// batch 16 (50 tokens × 16 images · 768 → 3072), and the text MLP at one short query (8 · 512 → 2048).
say("Peak (MatMul at the model's shapes)…");
const visionCfg = { m: 50 * 16, k: 768, n: 3072 };
const peak = {
  vision: await measurePeak(visionCfg, ENCODER_SESSION_OPTIONS, N(20, 8)),
  text: await measurePeak({ m: 8, k: 512, n: 2048 }, ENCODER_SESSION_OPTIONS, N(200, 60)),
};
results.peak = peak;

// Text encode: real length vs padded to 77, same queries, interleaved.
say('Text encode…');
const real: number[] = [];
const padded: number[] = [];
for (let r = 0; r < N(5, 2); r++) {
  for (const q of QUERIES) {
    real.push((await time(() => model.embedTexts([q])))[0]);
    padded.push((await time(() => model.embedTexts([q], { padTo: 77 })))[0]);
  }
}
const textReal = stats(real);
const textPadded = stats(padded);
const medianTokens = [...QUERIES.map((q) => model.tokenize(q).length)].sort((a, b) => a - b)[
  Math.floor(QUERIES.length / 2)
]!;
const textGflops = encoderFlops(modelDir, 'text', medianTokens) / (textReal.p50 / 1000) / 1e9;
results.textEncode = {
  realLength: textReal,
  paddedTo77: textPadded,
  speedup: round(textPadded.p50 / textReal.p50),
  medianTokens,
  gflops: round(textGflops, 1),
  // Against the same-shaped MatMul alone (a one-query text MLP) and against the machine's peak.
  fractionOfShapePeak: round(textGflops / peak.text.gflops, 3),
  fractionOfPeak: round(textGflops / peak.vision.gflops, 3),
};

// Image encode throughput (preprocessing included).
say('Image encode…');
const imageBytes = await Promise.all(photos.slice(0, 16).map((f) => sharp(f).toBuffer()));
const imageEncode: Record<string, number> = {};
for (const batch of [1, 16]) {
  const rounds = batch === 1 ? N(16, 4) : N(3, 2);
  const [ms] = await time(async () => {
    for (let r = 0; r < rounds; r++) await model.embedImages(imageBytes.slice(0, batch));
  });
  imageEncode[`batch${batch}ImagesPerSec`] = round((rounds * batch) / (ms / 1000));
}
const visionFlops = encoderFlops(modelDir, 'vision');
const imageGflops = (imageEncode.batch16ImagesPerSec! * visionFlops) / 1e9;
results.imageEncode = {
  ...imageEncode,
  gflopsPerImage: round(visionFlops / 1e9, 2),
  gflops: round(imageGflops, 1),
  // Decoding and resizing the JPEG are inside the time, outside the FLOPs: a lower bound.
  fractionOfPeak: round(imageGflops / peak.vision.gflops, 3),
};

// Flat search at 25K: ORT vs plain JS, same data, same run.
async function searchBench(rows: number, queries: number, plainQueries: number) {
  const dim = 512;
  const matrix = randomUnitRows(rows, dim, 42);
  const searcher = await FlatSearcher.create(matrix, rows, dim);
  const qs = Array.from({ length: queries }, (_, i) => randomUnitRows(1, dim, 1000 + i));
  await searcher.topK(qs[0]!, 10);
  const ort: number[] = [];
  for (const q of qs) ort.push((await time(() => searcher.topK(q, 10)))[0]);
  const plain: number[] = [];
  for (const q of qs.slice(0, plainQueries)) {
    const t = performance.now();
    topKPlain(matrix, dim, q, 10);
    plain.push(performance.now() - t);
  }
  const a = await searcher.topK(qs[1]!, 10);
  const b = topKPlain(matrix, dim, qs[1]!, 10);
  const exact = a.indices.every((v, i) => v === b.indices[i]);
  await searcher.release();
  const o = stats(ort);
  const p = stats(plain);
  return { onnxruntime: o, plainJs: p, speedup: round(p.p50 / o.p50), exact };
}
say('Flat search 25K…');
results.search25k = await searchBench(25_000, N(200, 50), N(30, 10));
say('Flat search vs numpy, queries alternating…');
results.flatVsNumpy25k = await flatVsNumpy(25_000, N(200, 50));

// Memory with both encoders and a 25K index loaded (the serving footprint).
say('Serving footprint…');
const servingDir = path.join(os.tmpdir(), `imagesearch-bench-index-${process.pid}`);
{
  const rows = 25_000;
  const vectors = randomUnitRows(rows, model.dim, 7);
  // Paths relative to the photo folder, as `index --images` writes them: the image store reads
  // absolute paths only when its operator allows them, relative ones always (under imagesRoot).
  const entries = Array.from({ length: rows }, (_, i) => ({
    id: `p${i}`,
    path: path.basename(photos[i % photos.length]!),
  }));
  await writeIndex(servingDir, {
    modelId: model.modelId,
    dim: model.dim,
    vectors,
    entries,
    imagesRoot: imagesDir,
  });
}
const index = await FlatVectorIndex.load(servingDir, { expect: { modelId: model.modelId, dim: model.dim } });
results.memory = { rssMbWithEncodersAnd25kIndex: rssMb(), peakRssMbSoFar: maxRssMb() };

// Grid compose from four cached 640-px JPEGs.
say('Grid compose…');
results.gridCompose = await benchGrid({ iterations: N(60, 20) });

// End to end over the 25K index with the real-size model.
say('End-to-end search…');
const images = new LocalAndRemoteImageStore({
  imagesRoot: imagesDir,
  allowedHosts: [],
  cacheDir: path.join(benchDir, 'thumb-cache'),
});
const grid = new SharpGridRenderer();
const plainService = new SearchPipeline({ embedder: model, index, grid, images, logger, minScore: -1 });
for (const q of QUERIES.slice(0, 3)) await plainService.search({ text: `${q} warm` });
const e2e: number[] = [];
for (let r = 0; r < N(3, 1); r++) {
  for (const q of QUERIES) e2e.push((await time(() => plainService.search({ text: `${q} ${r}` })))[0]);
}
const endToEnd: Record<string, unknown> = { noGemini: stats(e2e) };

const peer = await startGeminiPeer({ mode: 'slow', delayMs: 800 });
const deadline = 2500;
const reranker = new GeminiReranker({
  gemini: new GeminiClient({ apiKey: 'bench', baseUrl: peer.url, timeoutMs: deadline, logger }),
  imageStore: images,
});
const geminiService = new SearchPipeline({
  embedder: model,
  index,
  grid,
  images,
  reranker,
  logger,
  minScore: -1,
});
const slow: number[] = [];
let rankedByGemini = 0;
for (const q of QUERIES.slice(0, N(10, 4))) {
  const [ms, reply] = await time(() => geminiService.search({ text: `${q} gemini` }));
  slow.push(ms);
  if (reply.rankedBy === 'gemini') rankedByGemini++;
}
endToEnd.gemini800ms = { ...stats(slow), rankedByGemini };
const tokens = peer.requests.filter((r) => r.kind === 'rerank').map((r) => estimateRequestTokens(r.body));
endToEnd.geminiInputTokensMax = Math.max(...tokens);
endToEnd.geminiCostPerRequest = geminiCostSection(peer.requests);
peer.setMode('hang');
const hang: number[] = [];
let worstHang: Record<string, number | undefined> = {};
for (const q of QUERIES.slice(10, 10 + N(3, 2))) {
  const [ms, reply] = await time(() => geminiService.search({ text: `${q} hang` }));
  if (reply.fallbackReason !== 'timeout')
    throw new Error(`expected a timeout fallback, got ${reply.fallbackReason}`);
  if (ms >= Math.max(0, ...hang)) worstHang = { ...reply.timingsMs, wallMs: round(ms) };
  hang.push(ms);
}
endToEnd.geminiHangs = {
  deadlineMs: deadline,
  ...stats(hang),
  overDeadlineMs: round(Math.max(...hang) - deadline),
  // Where the worst one's time went: encode and search run before the deadline starts, compose after.
  worstStagesMs: worstHang,
};
await peer.close();
results.endToEnd25k = endToEnd;
await index.close();
rmSync(servingDir, { recursive: true, force: true });

// Index build throughput on local images.
say('Index build…');
{
  const out = path.join(os.tmpdir(), `imagesearch-bench-build-${process.pid}`);
  const [ms, report] = await time(() =>
    buildIndex({
      embedder: model,
      outDir: out,
      source: { kind: 'images', dir: imagesDir },
      batchSize: 16,
      logger,
      progress: false,
    }),
  );
  rmSync(out, { recursive: true, force: true });
  results.indexBuild = {
    images: report.total,
    imagesPerSec: round(report.total / (ms / 1000)),
    ratioToRawEncode: round(report.total / (ms / 1000) / imageEncode.batch16ImagesPerSec!, 2),
  };
}

// Index build on photos of the size users have, each in its own process (its own peak RSS).
{
  const { sets, skipped } = await makePhotoSets(benchDir, N(16, 4), say);
  const large: Record<string, unknown> = { rawEncodeImagesPerSec: imageEncode.batch16ImagesPerSec };
  for (const set of sets) {
    say(`Index build: ${set.name}…`);
    const r = buildInChild(
      set,
      modelDir,
      path.join(os.tmpdir(), `imagesearch-bench-${set.name}-${process.pid}`),
    );
    large[set.name] = {
      ...r,
      megapixels: round((set.width * set.height) / 1e6, 0),
      ratioToRawEncode: round(r.imagesPerSec / imageEncode.batch16ImagesPerSec!, 2),
    };
  }
  for (const [name, why] of Object.entries(skipped)) large[name] = `skipped: ${why}`;
  results.indexBuildLargePhotos = large;
}

// Slack ack latency under 20 concurrent slash commands (adapter in a child process).
say('Slack ack latency…');
try {
  results.slackAck = await benchSlackAck({ concurrency: 20, requests: N(200, 60) });
} catch (e) {
  results.slackAck = { error: (e as Error).message };
}

if (!opts.skip1m) {
  say('Flat vs numpy at 1M, queries alternating…');
  results.flatVsNumpy1m = await flatVsNumpy(1_000_000, N(50, 20));
  say('Engines at 1M (flat, int8, lancedb, numpy)…');
  results.scale = await scaleSection();
}
if (opts.ortOptions)
  results.ortOptions = await sweepOrtOptions(modelDir, imageBytes, { rounds: N(3, 1), say });
if (busy) {
  results.busyTurns = busy.turns();
  await busy.stop();
}
results.loadAverageAfter = os.loadavg().map((l) => round(l));
results.memory = { ...(results.memory as object), peakRssMbWholeRun: maxRssMb() };
await model.close();

const targets = {
  'search 25K p50 ≤ 2 ms': (results.search25k as { onnxruntime: { p50: number } }).onnxruntime.p50 <= 2,
  'search 25K ≥ 4× plain JS': (results.search25k as { speedup: number }).speedup >= 4,
  'search 1M (flat) p50 ≤ 100 ms': opts.skip1m
    ? 'skipped'
    : (results.scale as { flat: { p50: number } }).flat.p50 <= 100,
  ...(opts.skip1m ? {} : ((results.scale as { targets: Record<string, boolean> }).targets ?? {})),
  'text encode p50 ≤ 25 ms': textReal.p50 <= 25,
  'text encode ≥ 3× faster than padded': textPadded.p50 / textReal.p50 >= 3,
  'peak RSS with encoders + 25K ≤ 1.5 GB':
    (results.memory as { peakRssMbSoFar: number }).peakRssMbSoFar <= 1536,
  'grid compose p50 ≤ 40 ms': (results.gridCompose as { p50: number }).p50 <= 40,
  'e2e no Gemini p95 ≤ 150 ms': (endToEnd.noGemini as { p95: number }).p95 <= 150,
  'e2e Gemini 800 ms p95 ≤ 1.0 s': (endToEnd.gemini800ms as { p95: number }).p95 <= 1000,
  'Gemini hangs: reply ≤ deadline + 100 ms':
    (endToEnd.geminiHangs as { overDeadlineMs: number }).overDeadlineMs <= 100,
  'Gemini input ≤ 3,500 tokens': (endToEnd.geminiInputTokensMax as number) <= 3500,
};
results.targets = targets;

if (opts.json) process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
else {
  process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
}
await writeFile(path.join(benchDir, 'last-bench.json'), JSON.stringify(results, null, 2));
process.exit(0);

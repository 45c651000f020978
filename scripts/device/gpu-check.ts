/**
 * The device check (issue 9): encodes N images and N queries with the vit-b-32 fixture model on each
 * requested provider (WebGPU, CPU, …), checks every GPU embedding against its CPU twin and writes a
 * JSON report. Runs from source here (`node bin/run-script.js scripts/device/gpu-check.ts …`) and as
 * the bundle that scripts/device/pack.ts carries to the GPU machine (see scripts/device/gpu-check.sh).
 *
 *   gpu-check --providers webgpu,cpu --variants fp32,fp16 --images 256 --queries 256 --out $OUT/gpu-report.json
 */
import { execFileSync } from 'node:child_process';
import {
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { Command, InvalidArgumentError, Option } from 'commander';
import sharp from 'sharp';
import { ClipModel } from '../../src/clip/clip-model.ts';
import { preprocessInto } from '../../src/clip/preprocess.ts';
import { createSession, ortVersion, probeProviders, supportedBackends } from '../../src/clip/providers.ts';
import { createLogger } from '../../src/util/logger.ts';
import { makeFixtureModel, type Preset } from '../fixture-model/generate.ts';
import {
  compareRuns,
  cosineStats,
  type GpuReport,
  latency,
  type RunEmbeddings,
  type RunReport,
  syntheticQueries,
} from './report.ts';

type Variant = 'fp32' | 'fp16';
type Provider = 'webgpu' | 'cpu' | 'cuda';

interface Options {
  out: string;
  providers: Provider[];
  variants: Variant[];
  images: number;
  queries: number;
  batches: number[];
  preset: Preset;
  modelDir?: string;
  clipFiles: string;
  imagesDir?: string;
  threshold: number;
  deadlineS: number;
}

const here = path.dirname(fileURLToPath(import.meta.url));
/** The repo's test/fixtures when run from source (the kit carries its own copies beside the bundle). */
const REPO_FIXTURES = path.resolve(here, '..', '..', 'test', 'fixtures');

/** The tokenizer/config files: the kit's copy beside the bundle, else the repo's test/fixtures. */
function defaultClipFiles(): string {
  const candidates = [
    path.join(here, 'clip-files'),
    path.join(REPO_FIXTURES, 'clip', 'hf-xenova-clip-vit-base-patch32'),
  ];
  return candidates.find((d) => existsSync(path.join(d, 'tokenizer.json'))) ?? candidates[1]!;
}

function defaultImagesDir(): string | undefined {
  const candidates = [path.join(here, 'images'), path.join(REPO_FIXTURES, 'images')];
  return candidates.find((d) => existsSync(d));
}

const positiveInt = (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be a positive integer');
  return n;
};
const list =
  <T extends string>(allowed: readonly T[]) =>
  (v: string): T[] => {
    const items = v
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    for (const i of items) if (!allowed.includes(i as T)) throw new InvalidArgumentError(`unknown "${i}"`);
    return items as T[];
  };

function parseArgs(argv: string[]): Options {
  const program = new Command('gpu-check')
    .description('Encode images and queries on each provider, check GPU against CPU, write a JSON report')
    .option(
      '--out <file>',
      'report file',
      process.env.OUT ? path.join(process.env.OUT, 'gpu-report.json') : 'gpu-report.json',
    )
    .option(
      '--providers <list>',
      'providers to run; the cpu run is the twin the others are checked against',
      list(['webgpu', 'cpu', 'cuda'] as const),
      ['webgpu', 'cpu'] as Provider[],
    )
    .option('--variants <list>', 'model variants', list(['fp32', 'fp16'] as const), [
      'fp32',
      'fp16',
    ] as Variant[])
    .option('--images <n>', 'images to encode per pass', positiveInt, 256)
    .option('--queries <n>', 'queries to encode one at a time', positiveInt, 256)
    .option(
      '--batches <list>',
      'image batch sizes',
      (v) => v.split(',').map((b) => positiveInt(b.trim())),
      [1, 16, 64],
    )
    .addOption(
      new Option('--preset <preset>', 'fixture model size').choices(['tiny', 'vit-b-32']).default('vit-b-32'),
    )
    .option('--model-dir <dir>', 'use this model directory instead of generating one')
    .option('--clip-files <dir>', 'real tokenizer/config files for the generator', defaultClipFiles())
    .option('--images-dir <dir>', 'photos to use first (the rest are synthetic)', defaultImagesDir())
    .option('--threshold <x>', 'minimum cosine of a GPU embedding against its CPU twin', Number, 0.999)
    .option(
      '--deadline-s <n>',
      'stop starting new runs after this many seconds (the report is still written)',
      positiveInt,
      420,
    );
  program.parse(argv, { from: 'user' });
  return program.opts<Options>();
}

/** Seeded, distinct JPEGs: smooth colour fields with noise, sizes like real thumbnails. */
async function syntheticImages(n: number, seed = 7): Promise<Buffer[]> {
  let s = seed >>> 0;
  const rand = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const out: Buffer[] = [];
  for (let i = 0; i < n; i++) {
    const w = 320 + Math.floor(rand() * 320);
    const h = 240 + Math.floor(rand() * 240);
    const raw = Buffer.alloc(w * h * 3);
    const [a, b, c] = [rand() * 255, rand() * 255, rand() * 255];
    const [fx, fy] = [rand() * 0.05, rand() * 0.05];
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const o = (y * w + x) * 3;
        const wave = Math.sin(x * fx + y * fy) * 60;
        raw[o] = Math.max(0, Math.min(255, a + wave + (rand() - 0.5) * 40));
        raw[o + 1] = Math.max(0, Math.min(255, b + (x / w) * 80 - 40));
        raw[o + 2] = Math.max(0, Math.min(255, c + (y / h) * 80 - 40 - wave));
      }
    }
    out.push(
      await sharp(raw, { raw: { width: w, height: h, channels: 3 } })
        .jpeg({ quality: 85 })
        .toBuffer(),
    );
  }
  return out;
}

async function loadImages(n: number, dir: string | undefined): Promise<Buffer[]> {
  const photos = dir
    ? readdirSync(dir)
        .filter((f) => /\.(jpe?g|png|webp)$/i.test(f))
        .sort()
        .map((f) => readFileSync(path.join(dir, f)))
    : [];
  const taken = photos.slice(0, n);
  return [...taken, ...(await syntheticImages(n - taken.length))];
}

function gpuInfo(): GpuReport['gpu'] {
  try {
    const out = execFileSync(
      'nvidia-smi',
      ['--query-gpu=name,driver_version,memory.total', '--format=csv,noheader,nounits'],
      {
        encoding: 'utf8',
        timeout: 15_000,
        stdio: ['ignore', 'pipe', 'ignore'],
      },
    );
    return out
      .trim()
      .split('\n')
      .filter(Boolean)
      .map((l) => {
        const [name = '', driver = '', mem = '0'] = l.split(',').map((s) => s.trim());
        return { name, driver, memoryMiB: Number(mem) };
      });
  } catch {
    return null;
  }
}

function writeReport(file: string, report: GpuReport): void {
  const tmp = `${file}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(report, null, 2)}\n`);
  renameSync(tmp, file);
}

const say = (m: string) => process.stderr.write(`[gpu-check] ${m}\n`);

async function runGpuCheck(opts: Options, cleanup: string[]): Promise<GpuReport> {
  const started = performance.now();
  const elapsedS = () => (performance.now() - started) / 1000;
  const logs: Record<string, unknown>[] = [];
  // The model's own log lines go into the report (they name the provider each encoder loaded on)
  // and to stderr for whoever watches the run.
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (!line.trim()) continue;
        process.stderr.write(`${line}\n`);
        try {
          logs.push(JSON.parse(line) as Record<string, unknown>);
        } catch {
          logs.push({ msg: line });
        }
      }
      done();
    },
  });
  const logger = createLogger({ level: 'info', destination: sink });
  const cpus = os.cpus();
  const report: GpuReport = {
    schema: 1,
    startedAt: new Date().toISOString(),
    ok: false,
    host: {
      hostname: os.hostname(),
      cpus: cpus.length,
      cpuModel: cpus[0]?.model ?? 'unknown',
      memGiB: Math.round(os.totalmem() / 2 ** 30),
      node: process.version,
      platform: `${process.platform}-${process.arch}`,
    },
    gpu: gpuInfo(),
    ortVersion: ortVersion(),
    supportedBackends: supportedBackends(),
    probes: probeProviders(),
    env: Object.fromEntries(
      ['VK_DRIVER_FILES', 'VK_ICD_FILENAMES', 'LD_LIBRARY_PATH', 'UV_THREADPOOL_SIZE'].map((k) => [
        k,
        process.env[k],
      ]),
    ),
    options: {
      preset: opts.preset,
      variants: opts.variants,
      providers: opts.providers,
      images: opts.images,
      queries: opts.queries,
      batches: opts.batches,
      threshold: opts.threshold,
    },
    runs: [],
    comparisons: [],
    logs,
    errors: [],
  };
  const save = () => writeReport(opts.out, report);
  save();

  let modelDir = opts.modelDir;
  if (!modelDir) {
    modelDir = mkdtempSync(path.join(os.tmpdir(), `imagesearch-gpu-check-${opts.preset}-`));
    say(`generating the ${opts.preset} fixture model (${opts.variants.join(', ')}) in ${modelDir}`);
    const t = performance.now();
    await makeFixtureModel({
      out: modelDir,
      preset: opts.preset,
      seed: 1,
      variants: opts.variants,
      clipFilesDir: opts.clipFiles,
    });
    report.modelGenerationMs = Math.round(performance.now() - t);
    cleanup.push(modelDir);
    save();
  }

  const images = await loadImages(opts.images, opts.imagesDir);
  const queries = syntheticQueries(opts.queries);
  {
    // Preprocessing alone, so the image rates below can be split into sharp's share and the model's.
    const probe = await ClipModel.load({
      dir: modelDir,
      variant: opts.variants[0]!,
      provider: 'cpu',
      logger,
    });
    const { cropWidth, cropHeight } = probe.preprocess;
    const per = 3 * cropWidth * cropHeight;
    const pixels = new Float32Array(images.length * per);
    const t = performance.now();
    await Promise.all(images.map((img, i) => preprocessInto(img, probe.preprocess, pixels, i * per)));
    report.preprocessImagesPerSec = round1(images.length / ((performance.now() - t) / 1000));
    await probe.close();
  }

  {
    // What IMAGESEARCH_EP=auto picks on this machine, with the reasons it logs for the rest.
    const t = performance.now();
    try {
      const file = path.join(modelDir, 'onnx', 'text_model.onnx');
      const created = await createSession(existsSync(file) ? file : file.replace('.onnx', '_fp16.onnx'), {
        provider: 'auto',
        threads: 0,
        logger,
      });
      report.autoSelection = {
        provider: created.provider,
        skipped: created.skipped,
        ms: Math.round(performance.now() - t),
      };
      await created.session.release();
    } catch (e) {
      report.errors.push(`auto: ${e instanceof Error ? e.message : String(e)}`);
    }
    save();
  }

  // The CPU twin first: if a GPU provider crashes the process, its baseline is already in the report.
  const order = [...opts.providers].sort((a, b) => Number(b === 'cpu') - Number(a === 'cpu'));
  const embeddings = new Map<string, RunEmbeddings>();
  for (const variant of opts.variants) {
    for (const provider of order) {
      const run: RunReport = { variant, provider, imagePasses: [] };
      report.runs.push(run);
      if (elapsedS() > opts.deadlineS) {
        run.error = `not run: the ${opts.deadlineS} s deadline had passed`;
        report.errors.push(`${variant}/${provider}: ${run.error}`);
        save();
        continue;
      }
      say(`${variant} on ${provider}`);
      let model: ClipModel | undefined;
      const got: RunEmbeddings = { images: new Map() };
      try {
        model = await ClipModel.load({ dir: modelDir, variant, provider, logger });
        let t = performance.now();
        await model.warm();
        run.loadMs = Math.round(performance.now() - t);
        run.providerUsed = await model.providers();
        t = performance.now();
        // One call per shape the timed passes use, so WebGPU's shader compilation stays out of them.
        for (const b of opts.batches) await model.embedImages(images.slice(0, Math.min(b, images.length)));
        await model.embedTexts([queries[0]!]);
        run.warmupMs = Math.round(performance.now() - t);
        for (const batch of opts.batches) {
          const rows: Float32Array[] = [];
          t = performance.now();
          for (let i = 0; i < images.length; i += batch)
            rows.push(...(await model.embedImages(images.slice(i, i + batch))));
          const ms = performance.now() - t;
          got.images.set(batch, rows);
          run.imagePasses.push({
            batch,
            images: rows.length,
            ms: round1(ms),
            imagesPerSec: round1(rows.length / (ms / 1000)),
          });
          say(`  batch ${batch}: ${round1(rows.length / (ms / 1000))} images/s`);
          save();
        }
        const times: number[] = [];
        const qRows: Float32Array[] = [];
        for (const q of queries) {
          t = performance.now();
          const [e] = await model.embedTexts([q]);
          times.push(performance.now() - t);
          qRows.push(e!);
        }
        got.queries = qRows;
        run.queries = latency(times);
        say(`  queries: p50 ${run.queries.p50Ms} ms, p95 ${run.queries.p95Ms} ms`);
        embeddings.set(`${variant}/${provider}`, got);
      } catch (e) {
        run.error = e instanceof Error ? e.message : String(e);
        report.errors.push(`${variant}/${provider}: ${run.error}`);
        say(`  failed: ${run.error}`);
      } finally {
        await model?.close().catch(() => {});
      }
      save();
    }
  }

  for (const variant of opts.variants) {
    const cpu = embeddings.get(`${variant}/cpu`);
    for (const provider of opts.providers.filter((p) => p !== 'cpu')) {
      const gpu = embeddings.get(`${variant}/${provider}`);
      if (!gpu || !cpu) continue;
      report.comparisons.push(
        compareRuns({ variant, provider, against: 'cpu', threshold: opts.threshold }, gpu, cpu),
      );
    }
  }
  const fp32cpu = embeddings.get('fp32/cpu');
  if (fp32cpu && opts.variants.includes('fp16')) {
    report.fp16VsFp32 = [];
    for (const provider of opts.providers) {
      const r = embeddings.get(`fp16/${provider}`);
      const batch = [...(r?.images.keys() ?? [])][0];
      if (!r || batch === undefined) continue;
      const twin = fp32cpu.images.get(batch);
      if (!twin) continue;
      const entry: NonNullable<GpuReport['fp16VsFp32']>[number] = {
        provider,
        images: cosineStats(r.images.get(batch)!, twin, opts.threshold),
      };
      if (r.queries && fp32cpu.queries)
        entry.queries = cosineStats(r.queries, fp32cpu.queries, opts.threshold);
      report.fp16VsFp32.push(entry);
    }
  }
  const expectedComparisons = opts.providers.includes('cpu')
    ? opts.variants.length * opts.providers.filter((p) => p !== 'cpu').length
    : 0;
  report.ok =
    report.errors.length === 0 &&
    report.comparisons.length === expectedComparisons &&
    report.comparisons.every((c) => c.pass);
  report.finishedAt = new Date().toISOString();
  save();
  return report;
}

function round1(v: number): number {
  return Math.round(v * 10) / 10;
}

/** Entry point when run as a script (from source or bundled). */
async function main(argv: string[]): Promise<number> {
  const opts = parseArgs(argv);
  const cleanup: string[] = [];
  let report: GpuReport;
  try {
    report = await runGpuCheck(opts, cleanup);
  } finally {
    // The generated model (≈900 MB for vit-b-32 fp32+fp16) is only needed for this run.
    for (const dir of cleanup) rmSync(dir, { recursive: true, force: true });
  }
  say(`report: ${opts.out} (ok: ${report.ok})`);
  for (const c of report.comparisons) {
    say(
      `${c.variant} ${c.provider} vs cpu: min cosine ${Math.min(...c.images.map((i) => i.min), c.queries?.min ?? 1)} → ${c.pass ? 'pass' : 'FAIL'}`,
    );
  }
  return report.ok ? 0 : 1;
}

process.exitCode = await main(process.argv.slice(2));

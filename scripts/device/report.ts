/**
 * The GPU check's report format and the pure arithmetic behind it (percentiles, cosine agreement
 * between a GPU run and its CPU twin), kept apart from the script so tests can check them directly.
 */

/** Throughput of one image-encoding pass over all images at one batch size. */
export interface ImagePass {
  batch: number;
  images: number;
  ms: number;
  imagesPerSec: number;
}

/** Single-query text encoding latency. */
export interface QueryLatency {
  queries: number;
  p50Ms: number;
  p95Ms: number;
  meanMs: number;
  maxMs: number;
}

/** One (model variant, provider) run. */
export interface RunReport {
  variant: 'fp32' | 'fp16';
  /** What was asked for (`IMAGESEARCH_EP` equivalent). */
  provider: string;
  /** What each encoder actually ran on, as the model reports it. */
  providerUsed?: { text?: string; vision?: string };
  loadMs?: number;
  /** The first calls (WebGPU compiles its shaders here), kept out of the timings. */
  warmupMs?: number;
  imagePasses: ImagePass[];
  queries?: QueryLatency;
  error?: string;
}

/** How closely one set of embeddings matches its twin, row by row. */
export interface CosineStats {
  count: number;
  min: number;
  mean: number;
  /** Rows whose cosine is under the threshold. */
  below: number;
}

/** A GPU run checked against its CPU twin (same variant, same batch sizes). */
export interface Comparison {
  variant: string;
  provider: string;
  against: string;
  threshold: number;
  /** One entry per batch size: every image embedding of the GPU pass against the CPU pass. */
  images: ({ batch: number } & CosineStats)[];
  queries?: CosineStats;
  pass: boolean;
}

/** The whole report written to `$OUT/gpu-report.json`. */
export interface GpuReport {
  schema: 1;
  startedAt: string;
  finishedAt?: string;
  /** True when every requested run worked and every comparison passed. */
  ok: boolean;
  host: { hostname: string; cpus: number; cpuModel: string; memGiB: number; node: string; platform: string };
  gpu: { name: string; driver: string; memoryMiB: number }[] | null;
  ortVersion: string;
  supportedBackends: { name: string; bundled: boolean }[];
  probes: {
    name: string;
    available: boolean;
    reason?: string;
    found?: string[];
    env?: Record<string, string>;
  }[];
  env: Record<string, string | undefined>;
  options: {
    preset: string;
    variants: string[];
    providers: string[];
    images: number;
    queries: number;
    batches: number[];
    threshold: number;
    uvThreadpoolSize?: string;
  };
  modelGenerationMs?: number;
  /** What `IMAGESEARCH_EP=auto` chose here, and why it passed over the providers before it. */
  autoSelection?: { provider: string; skipped: { name: string; reason: string }[]; ms: number };
  /** Decoding + resizing alone (sharp), so image throughput can be read as model + preprocessing. */
  preprocessImagesPerSec?: number;
  runs: RunReport[];
  comparisons: Comparison[];
  /** Each fp16 run against the fp32 CPU run: informative only (fp16 weights are rounded), never checked. */
  fp16VsFp32?: { provider: string; images: CosineStats; queries?: CosineStats }[];
  /** The model's own log lines ('execution provider skipped', 'CLIP encoder loaded', …). */
  logs: Record<string, unknown>[];
  errors: string[];
}

/** Nearest-rank percentile of unsorted values (p in 0..100); NaN for none. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

/** Latency summary of per-query timings. */
export function latency(ms: readonly number[]): QueryLatency {
  const round = (v: number) => Math.round(v * 1000) / 1000;
  return {
    queries: ms.length,
    p50Ms: round(percentile(ms, 50)),
    p95Ms: round(percentile(ms, 95)),
    meanMs: round(ms.reduce((a, b) => a + b, 0) / Math.max(1, ms.length)),
    maxMs: round(Math.max(...ms)),
  };
}

/** Cosine similarity; the vectors need not be normalised. */
export function cosine(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) throw new Error(`length mismatch ${a.length} vs ${b.length}`);
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i]! * b[i]!;
    na += a[i]! * a[i]!;
    nb += b[i]! * b[i]!;
  }
  return na === 0 || nb === 0 ? 0 : dot / Math.sqrt(na * nb);
}

/** Row-by-row agreement of two equally long embedding lists. */
export function cosineStats(
  a: readonly Float32Array[],
  b: readonly Float32Array[],
  threshold: number,
): CosineStats {
  if (a.length !== b.length) throw new Error(`row count mismatch ${a.length} vs ${b.length}`);
  let min = 1;
  let sum = 0;
  let below = 0;
  for (let i = 0; i < a.length; i++) {
    const c = cosine(a[i]!, b[i]!);
    min = Math.min(min, c);
    sum += c;
    if (!(c >= threshold)) below++;
  }
  const round = (v: number) => Math.round(v * 1e6) / 1e6;
  return {
    count: a.length,
    min: round(a.length ? min : Number.NaN),
    mean: round(sum / Math.max(1, a.length)),
    below,
  };
}

/** Embeddings a run produced, kept beside its report for the comparisons. */
export interface RunEmbeddings {
  images: Map<number, Float32Array[]>;
  queries?: Float32Array[];
}

/** Checks every embedding of `gpu` against the same row of `cpu`, batch size by batch size. */
export function compareRuns(
  meta: { variant: string; provider: string; against: string; threshold: number },
  gpu: RunEmbeddings,
  cpu: RunEmbeddings,
): Comparison {
  const images: Comparison['images'] = [];
  for (const [batch, rows] of gpu.images) {
    const twin = cpu.images.get(batch) ?? [...cpu.images.values()][0];
    if (!twin) continue;
    images.push({ batch, ...cosineStats(rows, twin, meta.threshold) });
  }
  const out: Comparison = { ...meta, images, pass: false };
  if (gpu.queries && cpu.queries) out.queries = cosineStats(gpu.queries, cpu.queries, meta.threshold);
  const all = [...images, ...(out.queries ? [out.queries] : [])];
  out.pass = all.length > 0 && all.every((s) => s.count > 0 && s.below === 0);
  return out;
}

/** 256 (or n) distinct queries of varied length, the same every run. */
export function syntheticQueries(n: number): string[] {
  const subjects = [
    'a cat',
    'two dogs',
    'an astronaut',
    'a red bicycle',
    'a lighthouse',
    'a bowl of ramen',
    'a horse',
    'an old man',
    'children',
    'a rocket',
    'a sailboat',
    'a coffee cup',
    'a mountain goat',
    'a vintage car',
    'a violin',
    'a snowy owl',
  ];
  const places = [
    'on a sofa',
    'in the rain',
    'at sunset',
    'on the moon',
    'in a forest',
    'by the sea',
    'in a kitchen',
    'on a city street',
    'in the desert',
    'under neon lights',
    'in black and white',
    'from above',
  ];
  const extras = [
    '',
    ', photographed with a wide-angle lens and shallow depth of field',
    ' &amp; friends',
    ', close-up',
    // Past CLIP's 77 tokens: the encoder sees the truncated maximum.
    ', watercolor painting in a soft pastel palette with morning light falling through tall windows, highly detailed, an award-winning composition that fills the whole frame with texture and colour, seen by a quiet visitor who lingers in the doorway of an old museum on a grey and windy afternoon late in the autumn while the city hums outside and the rain keeps falling on the glass roof above the long gallery',
  ];
  const out: string[] = [];
  for (let i = 0; out.length < n; i++) {
    const s = subjects[i % subjects.length]!;
    const p = places[Math.floor(i / subjects.length) % places.length]!;
    // i % 5 against i % 16 and i / 16 keeps all of the first 256 distinct while spreading lengths evenly.
    const e = extras[i % extras.length]!;
    out.push(`${s} ${p}${e}`);
  }
  return out;
}

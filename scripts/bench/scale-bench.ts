/**
 * Engines at scale, in one run, on one matrix: N × 512 clustered synthetic embeddings (a normalised
 * Gaussian mixture, see clustered.ts) written once as features.npy, imported by each engine in its
 * own process (build time, peak RSS), then served by each engine in its own process (p50/p95, RSS of
 * a process holding only that index). Recall@10 is measured against the flat engine (fp32 exact).
 * numpy's `m @ q` + argpartition on the same matrix and queries is the peer, when python3 has numpy.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import path from 'node:path';
import { ENGINES, type EngineName } from '../../src/index/engines/types.ts';
import { encodeNpy } from '../../src/index/npy.ts';
import { mixtureStream } from './clustered.ts';

export interface ScaleBenchOptions {
  rows: number;
  queries: number;
  dir: string;
  /** Reuse indexes a previous run built from the same matrix (their build figures are kept). */
  reuse: boolean;
  say: (m: string) => void;
}

const DIM = 512;
const K = 10;

function stats(samples: number[]) {
  const s = [...samples].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
  return { p50: round(at(0.5)), p95: round(at(0.95)) };
}
const round = (x: number, d = 2) => Math.round(x * 10 ** d) / 10 ** d;

function du(p: string): number {
  const r = spawnSync('du', ['-sb', p], { encoding: 'utf8' });
  return Number(r.stdout.split(/\s/)[0]) || 0;
}

function worker(args: string[]): Record<string, unknown> {
  const out = execFileSync(
    process.execPath,
    ['bin/run-script.js', 'scripts/bench/scale-worker.ts', ...args],
    {
      encoding: 'utf8',
      maxBuffer: 256 << 20,
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, LOG_LEVEL: 'warn' },
    },
  );
  return JSON.parse(out.trim().split('\n').at(-1)!) as Record<string, unknown>;
}

async function writeMatrix(dir: string, rows: number, queries: number): Promise<void> {
  const features = path.join(dir, 'features.npy');
  const next = mixtureStream(DIM, { seed: 1 });
  const fh = await open(`${features}.tmp`, 'w');
  try {
    // The header for the full shape (encodeNpy of no data writes just that), then the rows in chunks.
    await fh.write(encodeNpy(new Float32Array(0), rows, DIM));
    const chunk = new Float32Array(16384 * DIM);
    for (let done = 0; done < rows; done += 16384) {
      const n = Math.min(16384, rows - done);
      const part = next(chunk.subarray(0, n * DIM));
      await fh.write(new Uint8Array(part.buffer, part.byteOffset, part.byteLength));
    }
  } finally {
    await fh.close();
  }
  execFileSync('mv', [`${features}.tmp`, features]);
  writeFileSync(
    path.join(dir, 'photo_ids.csv'),
    `photo_id\n${Array.from({ length: rows }, (_, i) => `p${i}`).join('\n')}\n`,
  );
  const q = mixtureStream(DIM, { seed: 99 })(new Float32Array(queries * DIM));
  writeFileSync(path.join(dir, 'queries.npy'), encodeNpy(q, queries, DIM));
  writeFileSync(
    path.join(dir, 'matrix.json'),
    JSON.stringify({ rows, queries, dim: DIM, seed: 1, qseed: 99 }),
  );
}

const NUMPY_PEER = `
import json, sys, time, numpy as np
m = np.load(sys.argv[1], mmap_mode='r'); m = np.ascontiguousarray(m)
qs = np.load(sys.argv[2]); k = int(sys.argv[3])
lat, res = [], []
for i in range(3): s = m @ qs[i]; np.argpartition(-s, k)[:k]
for q in qs:
    t = time.perf_counter(); s = m @ q; top = np.argpartition(-s, k)[:k]; top = top[np.argsort(-s[top])]
    lat.append((time.perf_counter() - t) * 1000); res.append(['p%d' % j for j in top])
print(json.dumps({'latencies': lat, 'results': res, 'numpy': np.__version__}))
`;

export async function benchScale(opts: ScaleBenchOptions): Promise<Record<string, unknown>> {
  const { rows, queries, say } = opts;
  const dir = path.join(opts.dir, `scale-${rows}`);
  mkdirSync(dir, { recursive: true });
  const matrixJson = path.join(dir, 'matrix.json');
  const same =
    existsSync(matrixJson) &&
    JSON.stringify(JSON.parse(readFileSync(matrixJson, 'utf8'))) ===
      JSON.stringify({ rows, queries, dim: DIM, seed: 1, qseed: 99 });
  if (!same) {
    say(`Scale: generating ${rows} × ${DIM} clustered vectors…`);
    for (const e of ENGINES) rmSync(path.join(dir, e), { recursive: true, force: true });
    await writeMatrix(dir, rows, queries);
  }
  const features = path.join(dir, 'features.npy');
  const out: Record<string, unknown> = {
    rows,
    dim: DIM,
    queries,
    matrixMb: Math.round((rows * DIM * 4) / 2 ** 20),
  };
  const served: Partial<Record<EngineName, { latencies: number[]; results: string[][] }>> = {};
  for (const engine of ENGINES) {
    const idx = path.join(dir, engine);
    const buildFile = path.join(dir, `${engine}.build.json`);
    let build: Record<string, unknown>;
    if (opts.reuse && existsSync(buildFile) && existsSync(idx)) {
      build = { ...(JSON.parse(readFileSync(buildFile, 'utf8')) as object), reused: true };
    } else {
      rmSync(idx, { recursive: true, force: true });
      say(`Scale: building ${engine}…`);
      build = worker(['build', engine, features, path.join(dir, 'photo_ids.csv'), idx]);
      writeFileSync(buildFile, JSON.stringify(build));
    }
    say(`Scale: serving ${engine}…`);
    const s = worker(['serve', engine, idx, path.join(dir, 'queries.npy'), String(K)]) as {
      coldLatencies: number[];
      latencies: number[];
      results: string[][];
      rssMb: number;
      maxRssMb: number;
      loadMs: number;
    };
    served[engine] = s;
    const cold = stats(s.coldLatencies);
    out[engine] = {
      // p50/p95: steady state (second pass); cold*: the first pass after start.
      ...stats(s.latencies),
      coldP50: cold.p50,
      coldP95: cold.p95,
      rssMb: s.rssMb,
      maxRssMb: s.maxRssMb,
      loadMs: s.loadMs,
      buildS: round(Number(build.ms) / 1000, 1),
      buildMaxRssMb: build.maxRssMb,
      diskMb: Math.round(du(idx) / 2 ** 20),
      ...(build.reused ? { buildReused: true } : {}),
    };
  }
  const truth = served.flat!.results;
  const recall = (res: string[][]) => {
    let hit = 0;
    res.forEach((r, i) => {
      const t = new Set(truth[i]);
      for (const id of r) if (t.has(id)) hit++;
    });
    return round(hit / (truth.length * K), 4);
  };
  for (const engine of ENGINES)
    (out[engine] as Record<string, unknown>).recallAt10 = recall(served[engine]!.results);

  const py = spawnSync('python3', ['-c', 'import numpy'], { stdio: 'ignore' });
  if (py.status === 0) {
    say('Scale: numpy peer…');
    const r = spawnSync('python3', ['-c', NUMPY_PEER, features, path.join(dir, 'queries.npy'), String(K)], {
      encoding: 'utf8',
      maxBuffer: 256 << 20,
    });
    if (r.status === 0) {
      const n = JSON.parse(r.stdout) as { latencies: number[]; results: string[][]; numpy: string };
      out.numpy = { ...stats(n.latencies), recallAt10: recall(n.results), version: n.numpy };
    } else out.numpy = { error: r.stderr.trim().split('\n').at(-1) };
  } else out.numpy = 'skipped: python3 with numpy not found';

  const flat = out.flat as { p50: number };
  const int8 = out.int8 as { p50: number; recallAt10: number; rssMb: number };
  const lance = out.lancedb as { p50: number; recallAt10: number; rssMb: number };
  out.int8SpeedupOverFlat = round(flat.p50 / int8.p50, 1);
  out.featuresMb = Math.round(statSync(features).size / 2 ** 20);
  const numpy = out.numpy as { p50?: number } | string;
  out.targets = {
    ...(typeof numpy === 'object' && numpy.p50 !== undefined
      ? { 'flat (fp32 exact) p50 ≤ numpy p50, same run': flat.p50 <= numpy.p50 }
      : {}),
    'int8 recall@10 ≥ 0.999': int8.recallAt10 >= 0.999,
    'int8 p50 ≥ 3× faster than fp32 exact': flat.p50 / int8.p50 >= 3,
    'int8 serving RSS ≤ 0.7 GB': int8.rssMb <= 0.7 * 1024,
    'lancedb recall@10 ≥ 0.95': lance.recallAt10 >= 0.95,
    'lancedb p50 ≤ 10 ms (steady state)': lance.p50 <= 10,
    'lancedb RSS ≤ 0.5 GB': lance.rssMb <= 512,
  };
  return out;
}

/**
 * The flat engine's kernel against numpy on one matrix, queries alternating between the two, so
 * that a neighbour's burst on this shared machine hits both alike (a numpy run before or after the
 * engine's, as scale-bench.ts does, measures the neighbours as much as the kernels). Also checks
 * that both return the same top 10.
 *
 *   node bin/run-script.js scripts/bench/flat-vs-numpy.ts [rows] [queries]
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { open } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';
import { encodeNpy } from '../../src/index/npy.ts';
import { FlatSearcher } from '../../src/vector/flat-search.ts';
import { l2normalize } from '../../src/vector/math.ts';

const DIM = 512;
const K = 10;

const PEER = `
import sys, json, time, numpy as np
m = np.load(sys.argv[1]); qs = np.load(sys.argv[2]); k = int(sys.argv[3])
print('ready', flush=True)
for line in sys.stdin:
    q = qs[int(line)]
    t = time.perf_counter(); s = m @ q; top = np.argpartition(-s, k)[:k]; top = top[np.argsort(-s[top])]
    print(json.dumps({'ms': (time.perf_counter() - t) * 1000, 'top': top.tolist()}), flush=True)
`;

function rowsOf(n: number, seed: number): Float32Array {
  const m = new Float32Array(n * DIM);
  let s = seed >>> 0;
  for (let i = 0; i < m.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    m[i] = s / 4294967296 - 0.5;
  }
  for (let r = 0; r < n; r++) l2normalize(m.subarray(r * DIM, (r + 1) * DIM));
  return m;
}

async function writeNpy(file: string, data: Float32Array, rows: number): Promise<void> {
  const fh = await open(file, 'w');
  try {
    await fh.write(encodeNpy(new Float32Array(0), rows, DIM));
    await fh.write(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  } finally {
    await fh.close();
  }
}

function stats(xs: number[]) {
  const s = [...xs].sort((a, b) => a - b);
  const at = (q: number) => Math.round(s[Math.min(s.length - 1, Math.floor(q * s.length))]! * 100) / 100;
  return { p50: at(0.5), p95: at(0.95), min: at(0) };
}

export async function flatVsNumpy(rows: number, queries: number): Promise<Record<string, unknown>> {
  if (spawnSync('python3', ['-c', 'import numpy'], { stdio: 'ignore' }).status !== 0)
    return { skipped: 'python3 with numpy not found' };
  const dir = path.join(os.tmpdir(), `imagesearch-flat-vs-numpy-${process.pid}`);
  mkdirSync(dir, { recursive: true });
  try {
    const matrix = rowsOf(rows, 42);
    const qs = rowsOf(queries, 4242);
    await writeNpy(path.join(dir, 'm.npy'), matrix, rows);
    await writeNpy(path.join(dir, 'q.npy'), qs, queries);
    const peer = spawn('python3', ['-c', PEER, path.join(dir, 'm.npy'), path.join(dir, 'q.npy'), String(K)], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    const lines = createInterface({ input: peer.stdout! })[Symbol.asyncIterator]();
    const next = async () => String((await lines.next()).value);
    await next();
    const searcher = await FlatSearcher.create(matrix, rows, DIM);
    const flat: number[] = [];
    const numpy: number[] = [];
    let same = 0;
    try {
      for (let i = -2; i < queries; i++) {
        const qi = Math.max(0, i);
        const q = qs.subarray(qi * DIM, (qi + 1) * DIM);
        const t = performance.now();
        const ours = await searcher.topK(q, K);
        const ms = performance.now() - t;
        peer.stdin!.write(`${qi}\n`);
        const theirs = JSON.parse(await next()) as { ms: number; top: number[] };
        if (i < 0) continue; // warm-up
        flat.push(ms);
        numpy.push(theirs.ms);
        if (theirs.top.every((v, j) => v === ours.indices[j])) same++;
      }
    } finally {
      peer.stdin!.end();
      await searcher.release();
    }
    const f = stats(flat);
    const n = stats(numpy);
    return {
      rows,
      queries,
      flat: f,
      numpy: n,
      flatOverNumpyP50: Math.round((f.p50 / n.p50) * 100) / 100,
      sameTop10: `${same}/${queries}`,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const rows = Number(process.argv[2] ?? 1_000_000);
  const queries = Number(process.argv[3] ?? 50);
  process.stdout.write(
    `${JSON.stringify({ loadAverage: os.loadavg(), ...(await flatVsNumpy(rows, queries)) }, null, 2)}\n`,
  );
  process.exit(0);
}

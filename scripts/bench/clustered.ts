/**
 * Clustered synthetic embeddings for recall tests and the scale benchmark: a Gaussian mixture of
 * `clusters` random unit centres with isotropic noise, every row L2-normalised. Uniform random
 * vectors would flatter an ANN index (no structure, every neighbour equally far); real CLIP
 * embeddings gather in clusters whose members differ by small margins, which is what PQ finds hard.
 * Seeded, so every run and every process draws the same matrix.
 */

/** A seeded uniform [0, 1) generator (mulberry32). */
export function uniform(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Standard normal draws (Box–Muller, both values used). */
export function gaussian(next: () => number): () => number {
  let spare: number | undefined;
  return () => {
    if (spare !== undefined) {
      const v = spare;
      spare = undefined;
      return v;
    }
    let u = 0;
    while (u === 0) u = next();
    const r = Math.sqrt(-2 * Math.log(u));
    const a = 2 * Math.PI * next();
    spare = r * Math.sin(a);
    return r * Math.cos(a);
  };
}

export function normalizeRows(m: Float32Array, dim: number): Float32Array {
  for (let o = 0; o < m.length; o += dim) {
    let s = 0;
    for (let d = 0; d < dim; d++) s += m[o + d]! * m[o + d]!;
    const k = s > 0 ? 1 / Math.sqrt(s) : 0;
    for (let d = 0; d < dim; d++) m[o + d]! *= k;
  }
  return m;
}

export interface MixtureOptions {
  clusters?: number;
  /** Per-dimension noise; 0.04 at 512-d puts members at cosine ≈ 0.75 to their centre. */
  sigma?: number;
  /** Seed of the rows (queries use another seed, same centres). */
  seed?: number;
  /** Seed of the centres. */
  centreSeed?: number;
}

/**
 * A stream of rows from the mixture: each call fills `out` (a whole number of rows) with the next
 * rows, so a million rows can be written to disk in chunks and still equal one big draw.
 */
export function mixtureStream(dim: number, opts: MixtureOptions = {}): (out: Float32Array) => Float32Array {
  const clusters = opts.clusters ?? 1024;
  const sigma = opts.sigma ?? 0.04;
  const centres = new Float32Array(clusters * dim);
  const gc = gaussian(uniform(opts.centreSeed ?? 7));
  for (let i = 0; i < centres.length; i++) centres[i] = gc();
  normalizeRows(centres, dim);
  const next = uniform(opts.seed ?? 1);
  const g = gaussian(next);
  return (out) => {
    for (let o = 0; o < out.length; o += dim) {
      const c = Math.floor(next() * clusters) * dim;
      for (let d = 0; d < dim; d++) out[o + d] = centres[c + d]! + sigma * g();
    }
    return normalizeRows(out, dim);
  };
}

export function mixture(rows: number, dim: number, opts: MixtureOptions = {}): Float32Array {
  return mixtureStream(dim, opts)(new Float32Array(rows * dim));
}

/**
 * Every engine behind the same port: equal to brute force on small data (ids, exact scores,
 * exclusions, entries, vectors), recall on clustered data, and the same refusals.
 */
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { mixture, normalizeRows } from '../../scripts/bench/clustered.ts';
import { ImageSearchError } from '../../src/core/errors.ts';
import { INT8_DEFAULTS, Int8VectorIndex } from '../../src/index/engines/int8-index.ts';
import { LANCE_DEFAULTS, refineFactorFor } from '../../src/index/engines/lance-format.ts';
import { LanceVectorIndex } from '../../src/index/engines/lance-index.ts';
import { annParams } from '../../src/index/engines/lance-writer.ts';
import { ENGINES, type EngineName } from '../../src/index/engines/types.ts';
import { readManifest, type StoredEntry } from '../../src/index/format.ts';
import { encodeNpy, readNpyVector } from '../../src/index/npy.ts';
import { detectEngine, openIndexWriter, openVectorIndex } from '../../src/index/open.ts';
import { floatToHalfArray } from '../../src/util/half-float.ts';
import { topKPlain } from '../../src/vector/flat-search.ts';
import { tempDir } from '../support/fixtures.ts';

async function build(
  dir: string,
  engine: EngineName,
  vectors: Float32Array,
  dim: number,
  opts: { annMinRows?: number; entries?: (i: number) => StoredEntry } = {},
): Promise<void> {
  const rows = vectors.length / dim;
  const writer = await openIndexWriter(dir, {
    engine,
    modelId: 'm',
    dim,
    ...(opts.annMinRows === undefined ? {} : { annMinRows: opts.annMinRows }),
  });
  // Several batches, as a streamed import sends them.
  for (let first = 0; first < rows; first += 1000) {
    const n = Math.min(1000, rows - first);
    const entries = Array.from(
      { length: n },
      (_, i) => opts.entries?.(first + i) ?? { id: `img-${first + i}` },
    );
    await writer.append(entries, vectors.slice(first * dim, (first + n) * dim));
  }
  await writer.commit({ hosts: ['images.example'], source: 'test' });
}

describe.each(ENGINES)('%s engine', (engine) => {
  it('equals brute force on a random 3,000 × 64 index: ids, scores, exclusions, entries, vectors', async () => {
    const dim = 64;
    const vectors = mixture(3000, dim, { clusters: 3000, sigma: 0.2, seed: 3 });
    const dir = tempDir();
    await build(dir, engine, vectors, dim, {
      entries: (i) => ({
        id: `img-${i}`,
        url: `https://images.example/${i}.jpg`,
        credit: { name: `P ${i}` },
      }),
    });
    expect(await detectEngine(dir)).toBe(engine);
    const index = await openVectorIndex(dir, { expect: { modelId: 'm', dim } });
    try {
      expect(index.engine).toBe(engine);
      expect(index.size).toBe(3000);
      expect(index.hosts).toEqual(['images.example']);
      const queries = mixture(20, dim, { clusters: 3000, sigma: 0.2, seed: 99 });
      for (let q = 0; q < 20; q++) {
        const query = queries.slice(q * dim, (q + 1) * dim);
        const hits = await index.search(query, 10);
        const ref = topKPlain(vectors, dim, query, 10);
        expect(hits.map((h) => h.id)).toEqual(Array.from(ref.indices, (i) => `img-${i}`));
        for (const [i, h] of hits.entries()) expect(h.score).toBeCloseTo(ref.scores[i]!, 5);
      }
      const query = queries.slice(0, dim);
      const first = await index.search(query, 4);
      const next = await index.search(query, 4, { exclude: new Set(first.map((h) => h.id)) });
      const ref = topKPlain(vectors, dim, query, 8);
      expect(next.map((h) => h.id)).toEqual(Array.from(ref.indices.slice(4), (i) => `img-${i}`));

      expect(await index.getEntry('img-42')).toEqual({
        id: 'img-42',
        url: 'https://images.example/42.jpg',
        credit: { name: 'P 42' },
      });
      expect(await index.getEntry('img-nope')).toBeUndefined();
      const v = await index.getVector('img-7');
      expect(v).toHaveLength(dim);
      for (let d = 0; d < dim; d++) expect(v![d]).toBeCloseTo(vectors[7 * dim + d]!, 6);
      expect(await index.getVector("it's-missing")).toBeUndefined();
    } finally {
      await index.close();
    }
  });

  it('refuses an index made with another model or dimension, with the same message as flat', async () => {
    const dir = tempDir();
    await build(dir, engine, mixture(50, 8), 8);
    const err = await openVectorIndex(dir, { expect: { modelId: 'other', dim: 16 } }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ImageSearchError);
    expect((err as ImageSearchError).code).toBe('index_model_mismatch');
    expect((err as ImageSearchError).userMessage).toContain(
      'built with model "m" (8-d), but the loaded model is "other" (16-d)',
    );
  });

  it('refuses a query of another dimension; k ≤ 0 finds nothing', async () => {
    const dir = tempDir();
    await build(dir, engine, mixture(50, 8, { seed: 3 }), 8);
    const index = await openVectorIndex(dir, { expect: { modelId: 'm', dim: 8 } });
    try {
      await expect(index.search(new Float32Array(16), 4)).rejects.toThrow(
        'Query has 16 dimensions; the index has 8.',
      );
      expect(await index.search(mixture(1, 8, { seed: 4 }), 0)).toEqual([]);
      expect(await index.search(mixture(1, 8, { seed: 4 }), -1)).toEqual([]);
      expect(await index.search(mixture(1, 8, { seed: 4 }), 1)).toHaveLength(1);
    } finally {
      await index.close();
    }
  });

  it('never serves a write that was not committed', async () => {
    const dir = tempDir();
    await build(dir, engine, mixture(40, 8, { seed: 1 }), 8);
    const writer = await openIndexWriter(dir, { engine, modelId: 'm', dim: 8 });
    await writer.append(
      Array.from({ length: 30 }, (_, i) => ({ id: `new-${i}` })),
      mixture(30, 8, { seed: 2 }),
    );
    // No commit (a killed build): readers still see the 40 published rows.
    const index = await openVectorIndex(dir, { expect: { modelId: 'm', dim: 8 } });
    expect(index.size).toBe(40);
    expect(await index.getEntry('new-0')).toBeUndefined();
    await index.close();
    await writer.discard();
  });
});

describe('approximate and compressed engines on clustered data', () => {
  it('int8 finds the same top 10 as fp32 exact; lancedb with its IVF-RQ index keeps recall@10 ≥ 0.9', async () => {
    const dim = 64;
    const rows = 8000;
    const vectors = mixture(rows, dim, { clusters: 64, sigma: 0.08 });
    const queries = mixture(30, dim, { clusters: 64, sigma: 0.08, seed: 1234 });
    const recall: Record<string, number> = {};
    for (const engine of ['int8', 'lancedb'] as const) {
      const dir = tempDir();
      await build(dir, engine, vectors, dim, { annMinRows: 1000 });
      const index = await openVectorIndex(dir, { expect: { modelId: 'm', dim } });
      let found = 0;
      for (let q = 0; q < 30; q++) {
        const query = queries.slice(q * dim, (q + 1) * dim);
        const truth = new Set(Array.from(topKPlain(vectors, dim, query, 10).indices, (i) => `img-${i}`));
        for (const h of await index.search(query, 10)) if (truth.has(h.id)) found++;
      }
      recall[engine] = found / 300;
      // The lancedb figure must come from the ANN index, not an exact scan of unindexed rows.
      if (index instanceof LanceVectorIndex)
        expect(index.manifest.ann).toMatchObject({ type: 'ivf_rq', bits: 4 });
      await index.close();
      if (engine === 'lancedb') expect(existsSync(path.join(dir, 'index.json'))).toBe(false);
    }
    console.log('recall@10 on clustered 8,000 × 64:', recall);
    expect(recall.int8).toBe(1);
    expect(recall.lancedb).toBeGreaterThanOrEqual(0.9);
  });
});

describe('LanceDB and int8 search defaults, pinned', () => {
  it('refine factor 3 for 4-bit RaBitQ, 30 for 1-bit or PQ codes; 20 probes; int8 re-scores 100 rows', () => {
    // 3: recall@10 0.9985 at 1M rows with 4-bit codes (docs/scale.md); each re-ranked row costs a
    // random read, so the factor is what a query costs.
    expect(refineFactorFor({ type: 'ivf_rq', partitions: 1000, bits: 4 })).toBe(3);
    expect(refineFactorFor({ type: 'ivf_rq', partitions: 1000, bits: 8 })).toBe(3);
    // 30: coarse codes (indexes built before 2026-11-30) need ten times as many for ~0.99.
    expect(refineFactorFor({ type: 'ivf_rq', partitions: 1000, bits: 1 })).toBe(30);
    expect(refineFactorFor({ type: 'ivf_rq', partitions: 1000, bits: 3 })).toBe(30);
    expect(refineFactorFor({ type: 'ivf_pq', partitions: 1000, subVectors: 64 })).toBe(30);
    expect(refineFactorFor(null)).toBe(30);
    expect(refineFactorFor(undefined)).toBe(30);
    expect(LANCE_DEFAULTS.refineFactor).toBe(3);
    expect(LANCE_DEFAULTS.refineFactorCoarse).toBe(30);
    // 20 partitions: LanceDB's own default, measured enough at 1M rows (docs/scale.md).
    expect(LANCE_DEFAULTS.nprobes).toBe(20);
    // Below 10,000 rows an exact scan is fast enough, and exact.
    expect(LANCE_DEFAULTS.annMinRows).toBe(10_000);
    // 100: int8 quantisation error never reaches the top 10 at 1M rows (npm run bench).
    expect(INT8_DEFAULTS.rescore).toBe(100);
    // The index built today: 4-bit codes, about √rows partitions, at most 4,096.
    expect(annParams(1_000_000)).toEqual({ type: 'ivf_rq', partitions: 1000, bits: 4 });
    expect(annParams(3000)).toEqual({ type: 'ivf_rq', partitions: 55, bits: 4 });
    expect(annParams(100_000_000).partitions).toBe(4096);
    expect(annParams(0).partitions).toBe(1);
  });
});

/** The wide dimensions of {@link clipShaped}. */
const WIDE = [3, 17, 40, 58];

/**
 * Rows shaped like CLIP embeddings: clustered, and a few dimensions with about 8× the spread of the
 * rest (CLIP's outlier dimensions), then L2-normalised. Data with the same spread in every dimension
 * hides any mistake in per-dimension scaling: every dimension then weighs the same either way.
 */
function clipShaped(rows: number, dim: number, seed: number): Float32Array {
  const m = mixture(rows, dim, { clusters: 40, sigma: 0.25, seed });
  for (let o = 0; o < m.length; o += dim) for (const d of WIDE) m[o + d]! *= 8;
  return normalizeRows(m, dim);
}

describe.each(ENGINES)('%s engine on CLIP-shaped data', (engine) => {
  // More rows than any shortlist (int8 re-scores 100; 400 excluded + 4 wanted); exact scans for
  // LanceDB (below its ANN threshold), so every engine must equal brute force exactly.
  const dim = 64;
  const rows = 3000;
  const vectors = clipShaped(rows, dim, 11);
  const queries = clipShaped(25, dim, 12);

  it('returns the brute-force top 10 with exact scores, and the next 4 after 400 excluded ids', async () => {
    const dir = tempDir();
    await build(dir, engine, vectors, dim);
    const index = await openVectorIndex(dir, { expect: { modelId: 'm', dim } });
    try {
      for (let q = 0; q < 25; q++) {
        const query = queries.slice(q * dim, (q + 1) * dim);
        const ref = topKPlain(vectors, dim, query, 404);
        const ids = (from: number, to: number) => Array.from(ref.indices.slice(from, to), (i) => `img-${i}`);
        const hits = await index.search(query, 10);
        expect(hits.map((h) => h.id)).toEqual(ids(0, 10));
        for (const [i, h] of hits.entries()) expect(h.score).toBeCloseTo(ref.scores[i]!, 5);
        if (q % 5 !== 0) continue;
        // A long conversation: 400 photos already shown, four times the int8 shortlist.
        const shown = new Set(ids(0, 400));
        const more = await index.search(query, 4, { exclude: shown });
        expect(more.map((h) => h.id)).toEqual(ids(400, 404));
        for (const [i, h] of more.entries()) expect(h.score).toBeCloseTo(ref.scores[400 + i]!, 5);
      }
    } finally {
      await index.close();
    }
  });
});

describe('int8 with its codes in many blocks (as an index of millions of rows is held)', () => {
  it('reads every block at its own offset, merges the per-block shortlists, and checks the checksum across blocks', async () => {
    const dim = 64;
    const vectors = clipShaped(3000, dim, 41);
    const queries = clipShaped(10, dim, 42);
    const dir = tempDir();
    await build(dir, 'int8', vectors, dim);
    const manifest = await readManifest(dir);
    // 97 rows a block: 31 blocks, the last one short.
    const index = await Int8VectorIndex.load(dir, manifest, { blockBytes: 97 * dim });
    try {
      for (let q = 0; q < 10; q++) {
        const query = queries.slice(q * dim, (q + 1) * dim);
        const ref = topKPlain(vectors, dim, query, 404);
        const ids = (from: number, to: number) => Array.from(ref.indices.slice(from, to), (i) => `img-${i}`);
        expect((await index.search(query, 10)).map((h) => h.id)).toEqual(ids(0, 10));
        const more = await index.search(query, 4, { exclude: new Set(ids(0, 400)) });
        expect(more.map((h) => h.id)).toEqual(ids(400, 404));
      }
    } finally {
      await index.close();
    }
    // One flipped code in the 20th block: the checksum over all blocks no longer matches.
    const codes = path.join(dir, manifest.int8!.codesFile);
    const bytes = readFileSync(codes);
    bytes[19 * 97 * dim + 5]! ^= 1;
    writeFileSync(codes, bytes);
    await expect(Int8VectorIndex.load(dir, manifest, { blockBytes: 97 * dim })).rejects.toThrow(
      /does not match its checksum/,
    );
  });
});

describe('int8 refuses damaged files by name', () => {
  it('a missing or truncated codes or vectors file, or a manifest without its int8 section', async () => {
    const dim = 8;
    const dir = tempDir();
    await build(dir, 'int8', mixture(40, dim, { seed: 5 }), dim);
    const manifest = await readManifest(dir);
    const codes = path.join(dir, manifest.int8!.codesFile);
    const vectorsFile = path.join(dir, manifest.vectorsFile);
    const load = () => Int8VectorIndex.load(dir, manifest);
    await expect(Int8VectorIndex.load(dir, { ...manifest, int8: undefined })).rejects.toThrow(
      'index.json has no int8 section',
    );
    const good = readFileSync(codes);
    writeFileSync(codes, good.subarray(0, 300));
    await expect(load()).rejects.toThrow(`${manifest.int8!.codesFile} has 300 bytes, expected 320`);
    rmSync(codes);
    await expect(load()).rejects.toThrow(`${manifest.int8!.codesFile} is missing`);
    writeFileSync(codes, good);
    writeFileSync(vectorsFile, readFileSync(vectorsFile).subarray(0, 1000));
    await expect(load()).rejects.toThrow(`${manifest.vectorsFile} has 1000 bytes, expected 1280`);
  });

  it('equal scores keep the index order (an exact duplicate photo never jumps ahead of its original)', async () => {
    const dim = 8;
    const base = mixture(30, dim, { seed: 6 });
    const vectors = new Float32Array(60 * dim);
    vectors.set(base);
    vectors.set(base, 30 * dim); // rows 30–59 repeat rows 0–29
    const dir = tempDir();
    await build(dir, 'int8', vectors, dim);
    const index = await openVectorIndex(dir, { expect: { modelId: 'm', dim } });
    try {
      for (const q of [3, 17]) {
        const hits = await index.search(base.slice(q * dim, (q + 1) * dim), 2);
        expect(hits.map((h) => h.id)).toEqual([`img-${q}`, `img-${q + 30}`]);
      }
    } finally {
      await index.close();
    }
  });
});

describe('int8 ties and the entries file', () => {
  it('equal exact scores come back in index order even when the int8 codes rank the later row first', async () => {
    // Rows 1 and 2 mirror each other across the query (1, 1, 0, 0)/√2: their exact cosines are equal
    // (the same two products, added in the other order), but dimension 1's smaller range quantises
    // them differently, so the int8 scan ranks row 2 ahead (22,644 against 22,606). The re-score
    // must put them back in index order.
    const dim = 4;
    const vectors = new Float32Array([1, 0, 0, 0, 0.6, 0.8, 0, 0, 0.8, 0.6, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1]);
    const dir = tempDir();
    await build(dir, 'int8', vectors, dim);
    const index = await openVectorIndex(dir, { expect: { modelId: 'm', dim } });
    try {
      const hits = await index.search(new Float32Array([Math.SQRT1_2, Math.SQRT1_2, 0, 0]), 2);
      expect(hits[0]!.score).toBe(hits[1]!.score);
      expect(hits.map((h) => h.id)).toEqual(['img-1', 'img-2']);
    } finally {
      await index.close();
    }
  });

  it('loading and closing leaves no file open (a server reloads its index many times)', async () => {
    const dim = 8;
    const dir = tempDir();
    await build(dir, 'int8', mixture(40, dim, { seed: 5 }), dim);
    const manifest = await readManifest(dir);
    const open = () => readdirSync('/proc/self/fd').length;
    const before = open();
    const cycles = 40;
    // Held, so the collector cannot close a leaked handle behind the test's back.
    const closed: Int8VectorIndex[] = [];
    for (let i = 0; i < cycles; i++) {
      const index = await Int8VectorIndex.load(dir, manifest);
      await index.close();
      closed.push(index);
    }
    expect(closed).toHaveLength(cycles);
    // One descriptor a cycle left open would be 40; other work in this process may hold a few.
    expect(open() - before).toBeLessThan(5);
  });

  it('a damaged entries file is refused by name', async () => {
    const dim = 8;
    const dir = tempDir();
    await build(dir, 'int8', mixture(40, dim, { seed: 5 }), dim);
    const manifest = await readManifest(dir);
    const file = path.join(dir, manifest.entriesFile);
    const lines = readFileSync(file, 'utf8').split('\n').filter(Boolean);
    writeFileSync(file, `${lines.slice(0, 39).join('\n')}\n`);
    await expect(Int8VectorIndex.load(dir, manifest)).rejects.toMatchObject({
      code: 'index_invalid',
      userMessage: expect.stringContaining(`(${manifest.entriesFile}: it has 39 entries, expected 40)`),
    });
  });
});

describe('the int8 re-score depth reaches the engine', () => {
  it('re-scoring one row leaves quantisation error in the ranking; the default 100 leaves none', async () => {
    const dim = 64;
    const vectors = clipShaped(3000, dim, 31);
    const queries = clipShaped(40, dim, 32);
    const dir = tempDir();
    await build(dir, 'int8', vectors, dim);
    const misses = async (opts: { rescore?: number }) => {
      const index = await openVectorIndex(dir, { expect: { modelId: 'm', dim }, ...opts });
      let wrong = 0;
      try {
        for (let q = 0; q < 40; q++) {
          const query = queries.slice(q * dim, (q + 1) * dim);
          const truth = Array.from(topKPlain(vectors, dim, query, 5).indices, (i) => `img-${i}`);
          if ((await index.search(query, 5)).some((h, i) => h.id !== truth[i])) wrong++;
        }
      } finally {
        await index.close();
      }
      return wrong;
    };
    expect(await misses({})).toBe(0);
    // k = 5 rows re-scored of a shortlist ranked by int8 codes: some order must differ from exact.
    expect(await misses({ rescore: 1 })).toBeGreaterThan(0);
  });
});

describe('the parameters that reach LanceDB (its own explainPlan)', () => {
  const dim = 64;
  const rows = 3000;
  const vectors = clipShaped(rows, dim, 21);
  const query = clipShaped(1, dim, 22);

  it('cosine, nprobes 20 and k × 3 candidates re-ranked by default; the configured values when set; k + excluded ids', async () => {
    const dir = tempDir();
    await build(dir, 'lancedb', vectors, dim, { annMinRows: 1000 });
    const plan = async (opts: { nprobes?: number; refineFactor?: number }, k: number, exclude = 0) => {
      const index = await openVectorIndex(dir, { expect: { modelId: 'm', dim }, ...opts });
      try {
        expect(index).toBeInstanceOf(LanceVectorIndex);
        const ids = new Set(Array.from({ length: exclude }, (_, i) => `img-${i}`));
        return await (index as LanceVectorIndex).explainSearch(query, k, exclude ? { exclude: ids } : {});
      } finally {
        await index.close();
      }
    };
    const byDefault = await plan({}, 10);
    expect(byDefault).toMatch(/ANNIvfPartition: .*minimum_nprobes=20, maximum_nprobes=Some\(20\)/);
    // The refine step: 10 × 3 quantised candidates, re-ranked by exact cosine, 10 kept.
    expect(byDefault).toMatch(/ANNSubIndex: .*k=30\b.*metric=Cosine/);
    expect(byDefault).toContain('KNNVectorDistance: metric=cosine');
    expect(byDefault).toMatch(/GlobalLimitExec: skip=0, fetch=10\b/);

    const configured = await plan({ nprobes: 7, refineFactor: 5 }, 10);
    expect(configured).toMatch(/minimum_nprobes=7, maximum_nprobes=Some\(7\)/);
    expect(configured).toMatch(/ANNSubIndex: .*k=50\b/);

    // "4 more" after 6 shown photos: 10 fetched (the 6 are dropped after), 30 candidates re-ranked.
    const more = await plan({}, 4, 6);
    expect(more).toMatch(/GlobalLimitExec: skip=0, fetch=10\b/);
    expect(more).toMatch(/ANNSubIndex: .*k=30\b/);
  });

  it('IMAGESEARCH_LANCE_NPROBES / _REFINE / IMAGESEARCH_INT8_RESCORE reach the index options; unset and empty leave the defaults', async () => {
    const { loadConfig } = await import('../../src/util/config.ts');
    expect(loadConfig({}).indexSearch).toEqual({});
    expect(loadConfig({ IMAGESEARCH_LANCE_NPROBES: '', IMAGESEARCH_LANCE_REFINE: '' }).indexSearch).toEqual(
      {},
    );
    expect(
      loadConfig({
        IMAGESEARCH_LANCE_NPROBES: '7',
        IMAGESEARCH_LANCE_REFINE: '5',
        IMAGESEARCH_INT8_RESCORE: '250',
      }).indexSearch,
    ).toEqual({ nprobes: 7, refineFactor: 5, rescore: 250 });
    for (const bad of [
      { IMAGESEARCH_LANCE_NPROBES: '0' },
      { IMAGESEARCH_LANCE_REFINE: '2.5' },
      { IMAGESEARCH_INT8_RESCORE: 'lots' },
    ])
      expect(() => loadConfig(bad)).toThrow(new RegExp(Object.keys(bad)[0]!));
  });
});

describe('search --vector input (readNpyVector)', () => {
  it('takes a D-vector or a 1×D matrix, float16 or float32, and refuses anything else clearly', async () => {
    const dir = tempDir();
    const v = mixture(1, 16, { seed: 4 });
    const file = (name: string, data: Buffer) => {
      const f = path.join(dir, name);
      writeFileSync(f, data);
      return f;
    };
    // encodeNpy writes 2-D; rewrite the shape to make a 1-D file of the same bytes.
    const oneD = Buffer.from(encodeNpy(v, 1, 16).toString('latin1').replace('(1, 16)', '(16,)  '), 'latin1');
    expect(Array.from(await readNpyVector(file('d.npy', oneD)))).toEqual(Array.from(v));
    expect(Array.from(await readNpyVector(file('1xd.npy', encodeNpy(v, 1, 16))))).toEqual(Array.from(v));
    const half = await readNpyVector(file('f2.npy', encodeNpy(floatToHalfArray(v), 1, 16)));
    for (let d = 0; d < 16; d++) expect(half[d]).toBeCloseTo(v[d]!, 2);
    await expect(readNpyVector(file('two.npy', encodeNpy(mixture(2, 16), 2, 16)))).rejects.toThrow(
      /holds 2 vectors; --vector takes one/,
    );
    const ints = Buffer.from(encodeNpy(v, 1, 16).toString('latin1').replace("'<f4'", "'<i4'"), 'latin1');
    await expect(readNpyVector(file('int.npy', ints))).rejects.toThrow(/dtype <i4 \(expected <f2 or <f4\)/);
    await expect(readNpyVector(path.join(dir, 'missing.npy'))).rejects.toThrow(/Can't read/);
  });
});

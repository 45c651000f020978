import { copyFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClipModel } from '../../src/clip/clip-model.ts';
import type { Hit } from '../../src/core/types.ts';
import { SharpGridRenderer } from '../../src/grid/grid-renderer.ts';
import { LocalAndRemoteImageStore } from '../../src/images/image-store.ts';
import { buildIndex } from '../../src/index/build.ts';
import { FlatVectorIndex } from '../../src/index/vector-index.ts';
import { DEFAULT_NEAR_DUPLICATE_COSINE, distinctCandidates } from '../../src/search/near-duplicates.ts';
import { SEARCH_DEFAULTS, SearchPipeline } from '../../src/search/search-service.ts';
import { loadConfig } from '../../src/util/config.ts';
import { silentLogger } from '../../src/util/logger.ts';
import { dot, l2normalize } from '../../src/vector/math.ts';
import { IMAGES_DIR, tempDir } from '../support/fixtures.ts';
import { getTinyModelDir } from '../support/models.ts';

const vec = (...xs: number[]) => l2normalize(Float32Array.from(xs));
const hit = (id: string, score: number): Hit => ({ id, score, entry: { id } });

// a and a2 are near-copies (cos ≈ 0.995); b is a different shot of a similar scene (cos(a, b) ≈ 0.89).
const vectors: Record<string, Float32Array> = {
  a: vec(1, 0, 0),
  a2: vec(1, 0.1, 0),
  b: vec(1, 0.5, 0),
  c: vec(0, 1, 0),
  d: vec(0, 0, 1),
};
const vectorOf = (id: string) => vectors[id];
const hits = [hit('a', 0.9), hit('a2', 0.89), hit('b', 0.8), hit('c', 0.7), hit('d', 0.6)];

describe('near-duplicate suppression', () => {
  it('defaults to a cosine of 0.98, in the engine, the search service and the configuration', () => {
    // 0.98: burst frames and re-encodes of one shot score 0.98–1.0 under CLIP; "merely similar"
    // photos start to merge at 0.97 (the calibration in src/search/near-duplicates.ts).
    expect(DEFAULT_NEAR_DUPLICATE_COSINE).toBe(0.98);
    expect(SEARCH_DEFAULTS.nearDuplicateCosine).toBe(0.98);
    expect(loadConfig({}).nearDuplicateCosine).toBe(0.98);
    expect(loadConfig({ IMAGESEARCH_NEAR_DUPLICATE: '' }).nearDuplicateCosine).toBe(0.98);
    expect(loadConfig({ IMAGESEARCH_NEAR_DUPLICATE: '0.9' }).nearDuplicateCosine).toBe(0.9);
    // `off` is a threshold no pair of unit vectors reaches.
    expect(loadConfig({ IMAGESEARCH_NEAR_DUPLICATE: 'off' }).nearDuplicateCosine).toBeGreaterThan(1);
    for (const bad of ['0', '1.5', 'no', '-0.5'])
      expect(() => loadConfig({ IMAGESEARCH_NEAR_DUPLICATE: bad })).toThrow(/IMAGESEARCH_NEAR_DUPLICATE/);
    // At the threshold a candidate is a duplicate; just below it, a distinct shot.
    const pair = (cos: number) => [vec(1, 0), vec(cos, Math.sqrt(1 - cos * cos))];
    for (const [cos, kept] of [
      [0.981, 1],
      [0.979, 2],
    ] as const) {
      const [x, y] = pair(cos);
      const r = distinctCandidates([hit('x', 0.9), hit('y', 0.8)], (id) => (id === 'x' ? x : y), {
        threshold: DEFAULT_NEAR_DUPLICATE_COSINE,
        want: 10,
      });
      expect(r.kept).toHaveLength(kept);
    }
  });

  it('skips a candidate too close to a better one already kept, and keeps similar but distinct shots', () => {
    const r = distinctCandidates(hits, vectorOf, { threshold: 0.95, want: 10 });
    expect(r.kept.map((h) => h.id)).toEqual(['a', 'b', 'c', 'd']);
    expect(r.dropped).toEqual([{ id: 'a2', duplicateOf: 'a' }]);
  });

  it('stops once enough distinct candidates are kept', () => {
    expect(distinctCandidates(hits, vectorOf, { threshold: 0.95, want: 2 }).kept.map((h) => h.id)).toEqual([
      'a',
      'b',
    ]);
  });

  it('avoids near-copies of photos the conversation already showed', () => {
    const r = distinctCandidates(hits.slice(1), vectorOf, {
      threshold: 0.95,
      want: 10,
      avoid: [{ id: 'a', vector: vectors.a! }],
    });
    expect(r.kept.map((h) => h.id)).toEqual(['b', 'c', 'd']);
    expect(r.dropped).toEqual([{ id: 'a2', duplicateOf: 'a' }]);
  });

  it('is off above 1, and a lower threshold merges more', () => {
    expect(distinctCandidates(hits, vectorOf, { threshold: 1.01, want: 10 }).kept).toHaveLength(5);
    expect(distinctCandidates(hits, vectorOf, { threshold: 2, want: 2 }).kept.map((h) => h.id)).toEqual([
      'a',
      'a2',
    ]);
    expect(distinctCandidates(hits, vectorOf, { threshold: 0.85, want: 10 }).kept.map((h) => h.id)).toEqual([
      'a',
      'c',
      'd',
    ]);
  });

  it('at 1 (the highest setting that is not off) drops exact copies only', () => {
    const copies: Record<string, Float32Array> = { a: vec(1, 0, 0), copy: vec(1, 0, 0), a2: vectors.a2! };
    const r = distinctCandidates([hit('a', 0.9), hit('copy', 0.9), hit('a2', 0.89)], (id) => copies[id], {
      threshold: 1,
      want: 10,
    });
    expect(r.kept.map((h) => h.id)).toEqual(['a', 'a2']);
    expect(r.dropped).toEqual([{ id: 'copy', duplicateOf: 'a' }]);
  });

  it('keeps candidates it has no vector for, and ignores vectors of another size', () => {
    const r = distinctCandidates([hit('x', 1), hit('a', 0.9)], vectorOf, {
      threshold: 0.95,
      want: 10,
      avoid: [{ id: 'old', vector: vec(1, 0) }],
    });
    expect(r.kept.map((h) => h.id)).toEqual(['x', 'a']);
  });
});

describe('near-duplicate suppression in the search pipeline (tiny CLIP model, planted copies)', () => {
  // An index of the fixture photos plus lightly changed copies of three of them: re-encoded as JPEG
  // and resized, as a re-upload or an export of the same shot would be.
  const COPIES: Record<string, string> = {
    'cat_chelsea.png': 'copy_of_cat.jpg',
    'rocket_launchpad.jpg': 'copy_of_rocket.jpg',
    'greek_coins_bw.png': 'copy_of_coins.jpg',
  };
  const twin = new Map<string, string>();
  for (const [a, b] of Object.entries(COPIES)) {
    twin.set(a, b);
    twin.set(b, a);
  }
  let model: ClipModel;
  let index: FlatVectorIndex;
  const service = (nearDuplicateCosine?: number) =>
    new SearchPipeline({
      embedder: model,
      index,
      grid: new SharpGridRenderer(),
      images: new LocalAndRemoteImageStore({
        allowedHosts: [],
        ...(index.imagesRoot ? { imagesRoot: index.imagesRoot } : {}),
      }),
      logger: silentLogger(),
      minScore: -1,
      ...(nearDuplicateCosine === undefined ? {} : { nearDuplicateCosine }),
    });
  const stored = new Map<string, Float32Array>();
  const vectorOf = (id: string) => stored.get(id)!;

  beforeAll(async () => {
    const photos = tempDir('imagesearch-dups-');
    for (const f of readdirSync(IMAGES_DIR).filter((f) => !f.endsWith('.json'))) {
      copyFileSync(path.join(IMAGES_DIR, f), path.join(photos, f));
      const copy = COPIES[f];
      if (copy) {
        const meta = await sharp(path.join(IMAGES_DIR, f)).metadata();
        await sharp(path.join(IMAGES_DIR, f))
          .resize({ width: Math.round((meta.width ?? 400) * 0.8) })
          .jpeg({ quality: 75 })
          .toFile(path.join(photos, copy));
      }
    }
    model = await ClipModel.load({ dir: await getTinyModelDir(), logger: silentLogger() });
    const out = tempDir('imagesearch-dups-index-');
    await buildIndex({
      embedder: model,
      outDir: out,
      source: { kind: 'images', dir: photos },
      logger: silentLogger(),
      progress: false,
    });
    index = await FlatVectorIndex.load(out, { expect: { modelId: model.modelId, dim: model.dim } });
    for (const h of await index.search(new Float32Array(model.dim).fill(1), index.size))
      stored.set(h.id, (await index.getVector(h.id))!);
  });
  afterAll(async () => {
    await index?.close();
    await model?.close();
  });

  it('the planted copies really are near-duplicates under the default threshold', () => {
    for (const [a, b] of Object.entries(COPIES))
      expect(dot(vectorOf(a), vectorOf(b))).toBeGreaterThanOrEqual(0.98);
  });

  it('a photo and its copy never share a grid, and the candidates stay 10 distinct photos', async () => {
    const search = service();
    for (const original of Object.keys(COPIES)) {
      // The photo's own embedding as the query: it and its copy are the two best hits.
      const reply = await search.search({ text: original, vector: vectorOf(original), rerank: false });
      const picks = reply.picks.map((p) => p.id);
      expect(picks).toHaveLength(4);
      expect(picks.filter((id) => id === original || id === twin.get(original))).toHaveLength(1);
      expect(reply.nearDuplicates).toBeGreaterThanOrEqual(1);
      const pool = reply.candidates!.map((c) => c.id);
      expect(pool).toHaveLength(10);
      for (const [i, a] of pool.entries())
        for (const b of pool.slice(i + 1)) expect(dot(vectorOf(a), vectorOf(b))).toBeLessThan(0.98);
    }
  });

  it('"4 more" never brings back a copy of a photo already shown', async () => {
    const search = service();
    const shown = new Set<string>();
    for (let round = 0; round < 3; round++) {
      const reply = await search.search({
        text: 'cat',
        vector: vectorOf('cat_chelsea.png'),
        exclude: shown,
        rerank: false,
      });
      for (const p of reply.picks) {
        expect(shown.has(twin.get(p.id) ?? '')).toBe(false);
        shown.add(p.id);
      }
    }
    // 14 photos, 3 of them copies: 11 distinct shots in all, never a pair.
    expect(shown.size).toBe(11);
  });

  it('can be turned off: then the copy sits next to its original', async () => {
    const reply = await service(2).search({
      text: 'cat',
      vector: vectorOf('cat_chelsea.png'),
      rerank: false,
    });
    expect(
      reply.picks
        .map((p) => p.id)
        .slice(0, 2)
        .sort(),
    ).toEqual(['cat_chelsea.png', 'copy_of_cat.jpg']);
    expect(reply.nearDuplicates).toBeUndefined();
  });
});

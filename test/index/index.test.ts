import {
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { imageStoreOptions } from '../../adapters/app/stack.ts';
import { ClipModel } from '../../src/clip/clip-model.ts';
import { ImageSearchError } from '../../src/core/errors.ts';
import type { Embedder } from '../../src/core/types.ts';
import { LocalAndRemoteImageStore } from '../../src/images/image-store.ts';
import { buildIndex } from '../../src/index/build.ts';
import { connectLance, readControl } from '../../src/index/engines/lance-connect.ts';
import { readManifest } from '../../src/index/format.ts';
import { importNpy } from '../../src/index/import-npy.ts';
import { parseIndexLocation } from '../../src/index/location.ts';
import { encodeNpy, parseNpy } from '../../src/index/npy.ts';
import { openVectorIndex } from '../../src/index/open.ts';
import { FlatVectorIndex } from '../../src/index/vector-index.ts';
import { writeIndex } from '../../src/index/writer.ts';
import { floatToHalfArray } from '../../src/util/half-float.ts';
import { silentLogger } from '../../src/util/logger.ts';
import { topKPlain } from '../../src/vector/flat-search.ts';
import { l2normalize } from '../../src/vector/math.ts';
import { IMAGES_DIR, tempDir } from '../support/fixtures.ts';
import { pngHeaderClaiming } from '../support/images.ts';
import { getTinyModelDir } from '../support/models.ts';

const logger = silentLogger();

function randomMatrix(rows: number, dim: number, seed: number): Float32Array {
  const m = new Float32Array(rows * dim);
  let s = seed;
  for (let i = 0; i < m.length; i++) {
    s = (s * 16807) % 2147483647;
    m[i] = s / 2147483647 - 0.5;
  }
  for (let r = 0; r < rows; r++) l2normalize(m.subarray(r * dim, (r + 1) * dim));
  return m;
}

describe('flat search', () => {
  it('equals brute force (ids and scores) on a random 3,000 × 64 index, with exclusions', async () => {
    const dim = 64;
    const rows = 3000;
    const vectors = randomMatrix(rows, dim, 7);
    const dir = tempDir();
    const entries = Array.from({ length: rows }, (_, i) => ({ id: `img-${i}` }));
    await writeIndex(dir, { modelId: 'm', dim, vectors: vectors.slice(), entries });
    const index = await FlatVectorIndex.load(dir, { expect: { modelId: 'm', dim } });
    for (let q = 0; q < 20; q++) {
      const query = randomMatrix(1, dim, 1000 + q);
      const hits = await index.search(query, 10);
      const ref = topKPlain(vectors, dim, query, 10);
      expect(hits.map((h) => h.id)).toEqual(Array.from(ref.indices).map((i) => `img-${i}`));
      for (const [i, h] of hits.entries()) expect(h.score).toBeCloseTo(ref.scores[i]!, 5);
    }
    const query = randomMatrix(1, dim, 5);
    const first = await index.search(query, 4);
    const next = await index.search(query, 4, { exclude: new Set(first.map((h) => h.id)) });
    const ref = topKPlain(vectors, dim, query, 8);
    expect(next.map((h) => h.id)).toEqual(Array.from(ref.indices.slice(4)).map((i) => `img-${i}`));
    await index.close();
  });
});

/** The LanceDB manifest published in `dir` (which table, which version). */
async function publishedTable(dir: string) {
  const lance = await connectLance(parseIndexLocation(dir));
  const control = await readControl(lance);
  lance.db.close();
  return control?.published;
}

describe('index build from images', () => {
  let model: ClipModel;
  let imagesDir: string;
  beforeAll(async () => {
    model = await ClipModel.load({ dir: await getTinyModelDir(), logger });
    imagesDir = tempDir();
    cpSync(IMAGES_DIR, imagesDir, { recursive: true });
    // Odd inputs the build must skip without aborting.
    writeFileSync(path.join(imagesDir, 'corrupt.jpg'), Buffer.from('not really a jpeg at all'));
    const real = readFileSync(path.join(IMAGES_DIR, 'rocket_launchpad.jpg'));
    writeFileSync(path.join(imagesDir, 'truncated.jpg'), real.subarray(0, 200));
    writeFileSync(path.join(imagesDir, 'bomb.png'), pngHeaderClaiming(50_000, 50_000));
    writeFileSync(path.join(imagesDir, 'empty.png'), Buffer.alloc(0));
  });
  afterAll(async () => model.close());

  it('indexes every readable image, skips and reports the rest, and finds an image by itself first', async () => {
    const out = tempDir();
    const report = await buildIndex({
      embedder: model,
      outDir: out,
      source: { kind: 'images', dir: imagesDir },
      logger,
      progress: false,
    });
    const good = readdirSync(IMAGES_DIR).filter((f) => !f.endsWith('.json')).length;
    expect(report.total).toBe(good);
    // The summary carries the build's speed: images embedded over the embed stage's time.
    expect(report.added).toBe(good);
    expect(report.embedMs).toBeGreaterThan(0);
    expect(report.imagesPerSec).toBeCloseTo(good / (report.embedMs / 1000), 0);
    expect(report.skipped.map((s) => s.id).sort()).toEqual([
      'bomb.png',
      'corrupt.jpg',
      'empty.png',
      'truncated.jpg',
    ]);
    expect(report.skipped.find((s) => s.id === 'bomb.png')!.reason).toMatch(/too large|pixels/i);
    expect(readFileSync(path.join(out, 'skipped.jsonl'), 'utf8').trim().split('\n')).toHaveLength(4);

    const index = await FlatVectorIndex.load(out, { expect: { modelId: model.modelId, dim: model.dim } });
    for (const id of ['cat_chelsea.png', 'rocket_launchpad.jpg', 'horse_silhouette_rgba.png']) {
      const [q] = await model.embedImages([readFileSync(path.join(imagesDir, id))]);
      const hits = await index.search(q!, 3);
      expect(hits[0]!.id).toBe(id);
      expect(hits[0]!.score).toBeGreaterThan(0.999);
      // Relative to the folder, which index.json names: the store resolves it there.
      expect(hits[0]!.entry.path).toBe(id);
    }
    await index.close();
  });

  it('updates incrementally: new, changed and removed files without re-embedding the rest', async () => {
    const dir = tempDir();
    for (const f of ['cat_chelsea.png', 'rocket_launchpad.jpg', 'grace_hopper_128.jpg'])
      cpSync(path.join(IMAGES_DIR, f), path.join(dir, f));
    const out = tempDir();
    const counting = countingEmbedder(model);
    await buildIndex({
      embedder: counting,
      outDir: out,
      source: { kind: 'images', dir },
      logger,
      progress: false,
    });
    expect(counting.images).toBe(3);

    rmSync(path.join(dir, 'grace_hopper_128.jpg'));
    cpSync(path.join(IMAGES_DIR, 'astronaut_portrait.jpg'), path.join(dir, 'astronaut_portrait.jpg'));
    // "Change" the rocket: different content, so its fingerprint (size) changes.
    await sharp(path.join(IMAGES_DIR, 'rocket_launchpad.jpg'))
      .flip()
      .jpeg({ quality: 70 })
      .toFile(path.join(dir, 'rocket_launchpad.jpg.tmp'));
    rmSync(path.join(dir, 'rocket_launchpad.jpg'));
    cpSync(path.join(dir, 'rocket_launchpad.jpg.tmp'), path.join(dir, 'rocket_launchpad.jpg'));
    rmSync(path.join(dir, 'rocket_launchpad.jpg.tmp'));

    counting.images = 0;
    const report = await buildIndex({
      embedder: counting,
      outDir: out,
      source: { kind: 'images', dir },
      logger,
      progress: false,
    });
    expect(counting.images).toBe(2); // astronaut (new) + rocket (changed); cat reused
    expect(report).toMatchObject({ total: 3, added: 2, reused: 1, removed: 1 });
    const index = await FlatVectorIndex.load(out);
    expect(index.entries.map((e) => e.id).sort()).toEqual([
      'astronaut_portrait.jpg',
      'cat_chelsea.png',
      'rocket_launchpad.jpg',
    ]);
    // Old data files are cleaned up once the new index.json is in place.
    expect(readdirSync(out).filter((f) => f.startsWith('vectors-'))).toHaveLength(1);
    await index.close();
  });

  it.each(['int8', 'lancedb'] as const)(
    'updates a %s index incrementally too: new, changed and removed, unchanged rows untouched',
    async (engine) => {
      const dir = tempDir();
      for (const f of ['cat_chelsea.png', 'rocket_launchpad.jpg', 'grace_hopper_128.jpg'])
        cpSync(path.join(IMAGES_DIR, f), path.join(dir, f));
      const out = tempDir();
      const counting = countingEmbedder(model);
      const build = (engineOpt?: 'int8' | 'lancedb') =>
        buildIndex({
          embedder: counting,
          outDir: out,
          source: { kind: 'images', dir },
          logger,
          progress: false,
          ...(engineOpt ? { engine: engineOpt } : {}),
        });
      expect(await build(engine)).toMatchObject({ total: 3, added: 3, engine });
      const tableBefore = engine === 'lancedb' ? await publishedTable(out) : undefined;

      rmSync(path.join(dir, 'grace_hopper_128.jpg'));
      cpSync(path.join(IMAGES_DIR, 'astronaut_portrait.jpg'), path.join(dir, 'astronaut_portrait.jpg'));
      const flipped = await sharp(path.join(IMAGES_DIR, 'rocket_launchpad.jpg'))
        .flip()
        .jpeg({ quality: 70 })
        .toBuffer();
      writeFileSync(path.join(dir, 'rocket_launchpad.jpg'), flipped);

      counting.images = 0;
      // No --engine on the rerun: the engine already there is kept.
      const report = await build();
      expect(counting.images).toBe(2);
      expect(report).toMatchObject({ total: 3, added: 2, reused: 1, removed: 1, engine });
      if (engine === 'lancedb')
        expect(await publishedTable(out)).toMatchObject({ table: tableBefore!.table });

      const index = await openVectorIndex(out, { expect: { modelId: model.modelId, dim: model.dim } });
      try {
        expect(index.engine).toBe(engine);
        expect(index.size).toBe(3);
        expect(await index.getEntry('grace_hopper_128.jpg')).toBeUndefined();
        const [rocket] = await model.embedImages([flipped]);
        const hits = await index.search(rocket!, 3);
        expect(hits.map((h) => h.id).sort()).toEqual([
          'astronaut_portrait.jpg',
          'cat_chelsea.png',
          'rocket_launchpad.jpg',
        ]);
        expect(hits[0]).toMatchObject({ id: 'rocket_launchpad.jpg' });
        expect(hits[0]!.score).toBeGreaterThan(0.999);
      } finally {
        await index.close();
      }
    },
  );

  it('resumes an interrupted build without redoing finished batches', async () => {
    const out = tempDir();
    const failing = countingEmbedder(model, 2); // dies on the 3rd batch
    await expect(
      buildIndex({
        embedder: failing,
        outDir: out,
        source: { kind: 'images', dir: IMAGES_DIR },
        batchSize: 2,
        logger,
        progress: false,
      }),
    ).rejects.toThrow(/simulated crash/);
    expect(existsSync(path.join(out, 'index.json'))).toBe(false);
    const again = countingEmbedder(model);
    const report = await buildIndex({
      embedder: again,
      outDir: out,
      source: { kind: 'images', dir: IMAGES_DIR },
      batchSize: 2,
      logger,
      progress: false,
    });
    expect(report.resumed).toBe(true);
    expect(report.reused).toBe(4);
    expect(again.images).toBe(report.total - 4);
    expect(readdirSync(out).some((f) => f.startsWith('.build-'))).toBe(false);
  });

  it('builds from a CSV manifest with paths and credits', async () => {
    const dir = tempDir();
    const csv = [
      'id,path,credit_name,page_url',
      `cat,photos/cat.png,"Stefan, vdW",https://example.org/cat`,
      'nopath,,x,',
    ].join('\n');
    writeFileSync(path.join(dir, 'm.csv'), csv);
    mkdirSync(path.join(dir, 'photos'));
    cpSync(path.join(IMAGES_DIR, 'cat_chelsea.png'), path.join(dir, 'photos', 'cat.png'));
    const out = tempDir();
    const report = await buildIndex({
      embedder: model,
      outDir: out,
      source: { kind: 'manifest', file: path.join(dir, 'm.csv') },
      logger,
      progress: false,
    });
    expect(report.total).toBe(1);
    expect(report.skipped).toEqual([{ id: 'nopath', reason: expect.stringMatching(/neither path nor url/) }]);
    const index = await FlatVectorIndex.load(out);
    expect(await index.getEntry('cat')).toMatchObject({
      credit: { name: 'Stefan, vdW' },
      pageUrl: 'https://example.org/cat',
    });
    await index.close();
  });

  it('reads Unsplash Lite photos.tsv000 (+ parts) with URLs and credits, fetching through the given fetcher', async () => {
    const dir = tempDir();
    const header =
      'photo_id\tphoto_url\tphoto_image_url\tphoto_width\tphoto_height\tphotographer_username\tphotographer_first_name\tphotographer_last_name\tphoto_description';
    writeFileSync(
      path.join(dir, 'photos.tsv000'),
      `${header}\nAAA\thttps://unsplash.com/photos/AAA\thttps://images.unsplash.com/photo-a\t4000\t3000\tana\tAna\tB\ta "quoted" cat\n`,
    );
    writeFileSync(
      path.join(dir, 'photos.tsv001'),
      `${header}\nBBB\thttps://unsplash.com/photos/BBB\thttps://images.unsplash.com/photo-b\t10\t10\tbo\tBo\t\t\n` +
        // Quoted, as Unsplash's own loader (CSV format, tab delimiter) allows: a tab and quotes inside.
        `CCC\thttps://unsplash.com/photos/CCC\thttps://images.unsplash.com/photo-c\t10\t10\tcy\tCy\t\t"tab\there, ""quoted"""\n`,
    );
    const fetched: string[] = [];
    const bytes = readFileSync(path.join(IMAGES_DIR, 'cat_chelsea.png'));
    const out = tempDir();
    const report = await buildIndex({
      embedder: model,
      outDir: out,
      source: { kind: 'manifest', file: path.join(dir, 'photos.tsv000') },
      logger,
      progress: false,
      fetchImage: async (e) => {
        fetched.push(e.url!);
        if (e.id === 'BBB') throw new Error('404 Not Found');
        return bytes;
      },
    });
    expect(fetched.sort()).toEqual([
      'https://images.unsplash.com/photo-a',
      'https://images.unsplash.com/photo-b',
      'https://images.unsplash.com/photo-c',
    ]);
    expect(report.total).toBe(2);
    expect(report.skipped).toEqual([{ id: 'BBB', reason: '404 Not Found' }]);
    const manifest = await readManifest(out);
    expect(manifest.hosts).toEqual(['images.unsplash.com']);
    const index = await FlatVectorIndex.load(out);
    expect(await index.getEntry('AAA')).toMatchObject({
      url: 'https://images.unsplash.com/photo-a',
      pageUrl: 'https://unsplash.com/photos/AAA',
      credit: { name: 'Ana B', url: 'https://unsplash.com/@ana' },
      description: 'a "quoted" cat',
    });
    expect((await index.getEntry('CCC'))?.description).toBe('tab\there, "quoted"');
    await index.close();
  });
});

describe('image paths stay inside the image folder', () => {
  let model: ClipModel;
  beforeAll(async () => {
    model = await ClipModel.load({ dir: await getTinyModelDir(), logger });
  });
  afterAll(async () => model?.close());

  /** A manifest folder with one photo inside, and a "secret" photo and a symlink leading out of it. */
  function layout() {
    const top = tempDir();
    const photos = path.join(top, 'photos');
    mkdirSync(photos);
    cpSync(path.join(IMAGES_DIR, 'cat_chelsea.png'), path.join(photos, 'cat.png'));
    const secret = path.join(top, 'secret.png');
    cpSync(path.join(IMAGES_DIR, 'rocket_launchpad.jpg'), secret);
    symlinkSync(secret, path.join(photos, 'link.png'));
    return { top, photos, secret };
  }

  it('refuses ../, absolute paths and symlinks that lead out of the folder at build time', async () => {
    const { photos, secret } = layout();
    const csv = ['id,path', 'cat,cat.png', 'up,../secret.png', `abs,${secret}`, 'link,link.png'].join('\n');
    writeFileSync(path.join(photos, 'm.csv'), csv);
    const out = tempDir();
    const report = await buildIndex({
      embedder: model,
      outDir: out,
      source: { kind: 'manifest', file: path.join(photos, 'm.csv') },
      logger,
      progress: false,
    });
    expect(report.total).toBe(1);
    expect(report.skipped).toEqual(
      expect.arrayContaining([
        { id: 'up', reason: expect.stringMatching(/outside the image folder/) },
        { id: 'abs', reason: expect.stringMatching(/absolute path.*--allow-absolute-paths/) },
        { id: 'link', reason: expect.stringMatching(/outside the image folder/) },
      ]),
    );
    const index = await FlatVectorIndex.load(out);
    expect(index.entries.map((e) => e.id)).toEqual(['cat']);
    // Kept relative: the index holds no absolute path, so it can move with its photos.
    expect((await index.getEntry('cat'))?.path).toBe('cat.png');
    await index.close();

    // A folder of images: the symlink is not followed out either.
    const folder = await buildIndex({
      embedder: model,
      outDir: tempDir(),
      source: { kind: 'images', dir: photos },
      logger,
      progress: false,
    });
    expect(folder.total).toBe(1);
    expect(folder.skipped).toEqual([
      { id: 'link.png', reason: expect.stringMatching(/outside the image folder/) },
    ]);
  });

  it('takes absolute paths only when asked to, and records that in index.json', async () => {
    const { photos, secret } = layout();
    writeFileSync(path.join(photos, 'm.csv'), ['id,path', `abs,${secret}`].join('\n'));
    const out = tempDir();
    const report = await buildIndex({
      embedder: model,
      outDir: out,
      source: { kind: 'manifest', file: path.join(photos, 'm.csv') },
      allowAbsolutePaths: true,
      logger,
      progress: false,
    });
    expect(report.total).toBe(1);
    expect((await readManifest(out)).allowAbsolutePaths).toBe(true);
  });

  it('serves no file outside the folder, whatever an index’s entries say', async () => {
    const { top, photos, secret } = layout();
    const dir = tempDir();
    const entries = [
      { id: 'cat', path: 'cat.png' },
      { id: 'up', path: '../secret.png' },
      { id: 'abs', path: secret },
      { id: 'link', path: 'link.png' },
    ];
    await writeIndex(dir, {
      modelId: 'm',
      dim: 4,
      vectors: randomMatrix(entries.length, 4, 3),
      entries,
      imagesRoot: photos,
    });
    const index = await FlatVectorIndex.load(dir);
    const images = new LocalAndRemoteImageStore(imageStoreOptions({ dataDir: top, imageHosts: [] }, index));
    expect((await sharp(await images.get((await index.getEntry('cat'))!, 64)).metadata()).width).toBe(64);
    for (const id of ['up', 'abs', 'link']) {
      await expect(images.get((await index.getEntry(id))!, 64), id).rejects.toMatchObject({
        code: 'fetch_failed',
      });
    }
    await index.close();
  });
});

describe('index loading errors', () => {
  it('refuses an index made with another model or dimension, naming both', async () => {
    const dir = tempDir();
    await writeIndex(dir, {
      modelId: 'model-a',
      dim: 8,
      vectors: randomMatrix(2, 8, 3),
      entries: [{ id: 'a' }, { id: 'b' }],
    });
    await expect(FlatVectorIndex.load(dir, { expect: { modelId: 'model-b', dim: 8 } })).rejects.toMatchObject(
      {
        code: 'index_model_mismatch',
        userMessage: expect.stringMatching(/model-a.*model-b/),
      },
    );
    await expect(
      FlatVectorIndex.load(dir, { expect: { modelId: 'model-a', dim: 512 } }),
    ).rejects.toMatchObject({
      code: 'index_model_mismatch',
    });
  });

  it('reports missing, corrupt and truncated index files clearly', async () => {
    await expect(FlatVectorIndex.load(tempDir())).rejects.toMatchObject({
      code: 'index_missing',
      userMessage: expect.stringMatching(/imagesearch index/),
    });
    const dir = tempDir();
    const m = await writeIndex(dir, {
      modelId: 'm',
      dim: 8,
      vectors: randomMatrix(3, 8, 3),
      entries: [{ id: 'a' }, { id: 'b' }, { id: 'c' }],
    });
    const vec = path.join(dir, m.vectorsFile);
    const original = readFileSync(vec);
    const flipped = Buffer.from(original);
    flipped[5] = flipped[5]! ^ 0xff;
    writeFileSync(vec, flipped);
    await expect(FlatVectorIndex.load(dir)).rejects.toMatchObject({
      code: 'index_invalid',
      userMessage: expect.stringMatching(/checksum/),
    });
    writeFileSync(vec, original.subarray(0, 40));
    await expect(FlatVectorIndex.load(dir)).rejects.toMatchObject({
      code: 'index_invalid',
      userMessage: expect.stringMatching(/bytes/),
    });
    writeFileSync(path.join(dir, 'index.json'), '{ not json');
    await expect(FlatVectorIndex.load(dir)).rejects.toBeInstanceOf(ImageSearchError);
  });
});

describe('npy import', () => {
  it.each(['<f4', '<f2'] as const)(
    'round-trips %s features + photo_ids.csv (+ Unsplash metadata)',
    async (dtype) => {
      const rows = 50;
      const dim = 512;
      const features = randomMatrix(rows, dim, 11);
      const dir = tempDir();
      const data = dtype === '<f2' ? floatToHalfArray(features) : features;
      writeFileSync(path.join(dir, 'features.npy'), encodeNpy(data, rows, dim));
      writeFileSync(
        path.join(dir, 'photo_ids.csv'),
        `photo_id\n${Array.from({ length: rows }, (_, i) => `p${i}`).join('\n')}\n`,
      );
      writeFileSync(
        path.join(dir, 'photos.tsv000'),
        'photo_id\tphoto_url\tphoto_image_url\tphotographer_first_name\tphotographer_last_name\tphotographer_username\np3\thttps://unsplash.com/photos/p3\thttps://images.unsplash.com/p3\tJo\tDoe\tjodoe\n',
      );
      const parsed = parseNpy(readFileSync(path.join(dir, 'features.npy')));
      expect(parsed).toMatchObject({ rows, cols: dim, dtype });
      const out = tempDir();
      const result = await importNpy({
        features: path.join(dir, 'features.npy'),
        ids: path.join(dir, 'photo_ids.csv'),
        manifest: path.join(dir, 'photos.tsv000'),
        outDir: out,
      });
      expect(result).toEqual({ count: rows, withMetadata: 1, resumedRows: 0 });
      const index = await FlatVectorIndex.load(out, {
        expect: { modelId: 'openai/clip-vit-base-patch32', dim },
      });
      const tolerance = dtype === '<f2' ? 2e-3 : 1e-6;
      for (const i of [0, 3, 49]) {
        const v = (await index.getVector(`p${i}`))!;
        for (let d = 0; d < dim; d += 37)
          expect(Math.abs(v[d]! - features[i * dim + d]!)).toBeLessThan(tolerance);
        const hits = await index.search(features.slice(i * dim, (i + 1) * dim), 1);
        expect(hits[0]!.id).toBe(`p${i}`);
      }
      expect(await index.getEntry('p3')).toMatchObject({
        url: 'https://images.unsplash.com/p3',
        credit: { name: 'Jo Doe' },
      });
      await index.close();
    },
  );

  it('rejects mismatched row counts and non-float npy files with a clear message', async () => {
    const dir = tempDir();
    writeFileSync(path.join(dir, 'f.npy'), encodeNpy(randomMatrix(3, 4, 1), 3, 4));
    writeFileSync(path.join(dir, 'ids.csv'), 'photo_id\na\nb\n');
    await expect(
      importNpy({ features: path.join(dir, 'f.npy'), ids: path.join(dir, 'ids.csv'), outDir: tempDir() }),
    ).rejects.toMatchObject({
      userMessage: expect.stringMatching(/3 rows but .* 2 ids/),
    });
    const bad = encodeNpy(randomMatrix(1, 4, 1), 1, 4);
    bad.write("'<i8'", bad.indexOf("'<f4'"), 'latin1');
    expect(() => parseNpy(bad)).toThrow(/dtype <i8/);
    expect(() => parseNpy(Buffer.from('hello'))).toThrow(/magic/);
  });
});

/** Wraps a real embedder, counting images (and optionally crashing after N batches). */
function countingEmbedder(inner: Embedder, crashAfterBatches?: number): Embedder & { images: number } {
  let batches = 0;
  const wrapper = {
    modelId: inner.modelId,
    dim: inner.dim,
    images: 0,
    embedTexts: (t: string[]) => inner.embedTexts(t),
    checkImage: (b: Buffer) => inner.checkImage(b),
    async embedImages(images: Buffer[]) {
      if (crashAfterBatches !== undefined && batches >= crashAfterBatches) throw new Error('simulated crash');
      batches += 1;
      const out = await inner.embedImages(images);
      wrapper.images += images.length;
      return out;
    },
  };
  return wrapper;
}

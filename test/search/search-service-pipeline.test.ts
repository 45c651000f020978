/**
 * SearchPipeline over in-memory doubles of its ports (test/support/search-service-fakes.ts):
 * what it asks the index, the image store, the reranker and the grid renderer, and what it answers.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ImageSearchError } from '../../src/core/errors.ts';
import type { Pick, SearchQuery } from '../../src/core/types.ts';
import { effectiveVector } from '../../src/search/query-vector.ts';
import { creditLine, SearchPipeline, type SearchPipelineOptions } from '../../src/search/search-service.ts';
import { silentLogger } from '../../src/util/logger.ts';
import {
  DIM,
  distinctPhotos,
  duplicatePhotos,
  FakeEmbedder,
  FakeGrid,
  FakeImages,
  FakeIndex,
  type FakePhoto,
  FakeReranker,
  GRID_BYTES,
  imageBytes,
  oneHot,
  recordingLogger,
  textVector,
} from '../support/search-service-fakes.ts';

interface Stack {
  service: SearchPipeline;
  index: FakeIndex;
  embedder: FakeEmbedder;
  images: FakeImages;
  grid: FakeGrid;
}

function stack(
  photos: FakePhoto[],
  opts: Partial<SearchPipelineOptions> & { images?: FakeImages; carriesVectors?: boolean } = {},
): Stack {
  const { images = new FakeImages(), carriesVectors, ...rest } = opts;
  const index = new FakeIndex(photos, carriesVectors === undefined ? {} : { carriesVectors });
  const embedder = new FakeEmbedder();
  const grid = new FakeGrid();
  const service = new SearchPipeline({
    embedder,
    index,
    grid,
    images,
    logger: silentLogger(),
    ...rest,
  });
  return { service, index, embedder, images, grid };
}

const ids = (picks: Pick[]) => picks.map((p) => p.id);
const fetched = (images: FakeImages) => images.gets.map((g) => g.split('@')[0]).sort();

describe('SearchPipeline: construction and encoding', () => {
  it('refuses an index built with another model or dimension', () => {
    const build = (modelId: string, dim: number) => () =>
      new SearchPipeline({
        embedder: new FakeEmbedder(),
        index: new FakeIndex([], { modelId, dim }),
        grid: new FakeGrid(),
        images: new FakeImages(),
        logger: silentLogger(),
      });
    expect(build('other-clip', DIM)).toThrow(
      new ImageSearchError(
        'index_model_mismatch',
        `The index was built with "other-clip" (${DIM}-d) but the model is "fake-clip" (${DIM}-d).`,
      ),
    );
    try {
      build('fake-clip', 32)();
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(ImageSearchError);
      expect((e as ImageSearchError).code).toBe('index_model_mismatch');
      expect((e as ImageSearchError).message).toBe(
        `The index was built with "fake-clip" (32-d) but the model is "fake-clip" (${DIM}-d).`,
      );
    }
    expect(build('fake-clip', DIM)).not.toThrow();
  });

  it('caches query embeddings per text, handing out copies the caller may change', async () => {
    const { service, embedder } = stack([]);
    const first = await service.embedText('cat');
    expect(first).toEqual(textVector('cat'));
    first.fill(7); // a caller normalising or blending in place
    const second = await service.embedText('cat');
    expect(second).toBeInstanceOf(Float32Array);
    expect(second).toEqual(textVector('cat'));
    second.fill(9);
    expect(await service.embedText('cat')).toEqual(textVector('cat'));
    expect(await service.embedText('a dog')).toEqual(textVector('a dog'));
    expect(embedder.texts).toEqual(['cat', 'a dog']);
  });

  it('keeps at most embeddingCacheSize query embeddings', async () => {
    const { service, embedder } = stack([], { embeddingCacheSize: 1 });
    await service.embedText('cat');
    await service.embedText('a dog');
    await service.embedText('cat');
    expect(embedder.texts).toEqual(['cat', 'a dog', 'cat']);
  });

  it('passes entries, vectors and images through from the index and the image store', async () => {
    const { service, images } = stack(distinctPhotos(2));
    expect(service.modelId).toBe('fake-clip');
    expect(await service.getEntry('p1')).toEqual({ id: 'p1', path: 'p1.jpg' });
    expect(await service.getVector('p1')).toEqual(oneHot(1));
    expect(await service.getImage({ id: 'p1' }, 1200)).toEqual(imageBytes('p1'));
    expect(images.gets).toEqual(['p1@1200']);
  });

  it('encodes the text as CLIP reads it, timed as the encode stage, and answers the vector', async () => {
    const { service, embedder } = stack(distinctPhotos(4));
    const r = await service.search({ text: 'cats, without dogs', clipText: 'cats', rerank: false });
    expect(embedder.texts).toEqual(['cats']);
    expect(r.vector).toEqual(textVector('cats'));
    expect(r.imageVector).toBeUndefined();
    expect(r.timingsMs.encode).toEqual(expect.any(Number));
    expect(r.timingsMs.total).toBeGreaterThanOrEqual(r.timingsMs.encode!);
  });

  it('encodes an uploaded image after checking its header, blends it with the words, subtracts negatives', async () => {
    const { service, embedder } = stack(distinctPhotos(4));
    const bytes = Buffer.from('12345');
    const r = await service.search({ text: 'x', clipText: 'cat', image: bytes, negatives: ['a dog'] });
    expect(embedder.checked).toEqual([5]);
    expect(embedder.imageBatches).toEqual([1]);
    expect(embedder.texts).toEqual(['cat', 'a dog']);
    expect(r.imageVector).toEqual(oneHot(5));
    expect(r.vector).toEqual(
      effectiveVector({ anchor: oneHot(5), text: textVector('cat'), negatives: [textVector('a dog')] }),
    );
  });

  it('an image side alone is searched as it is; an anchor of another size is dropped for the words', async () => {
    const { service, embedder } = stack(distinctPhotos(4));
    const alone = await service.search({ text: 'similar images', clipText: '', anchor: oneHot(7) });
    expect(alone.vector).toEqual(oneHot(7));
    expect(embedder.texts).toEqual([]);
    const old = await service.search({ text: 'cat', anchor: new Float32Array(16).fill(0.25) });
    expect(old.vector).toEqual(textVector('cat'));
  });

  it('a ready vector is not encoded; nothing to encode is a query_invalid error', async () => {
    const { service, embedder } = stack(distinctPhotos(4));
    const r = await service.search({ text: 'cat', vector: oneHot(3) });
    expect(r.vector).toEqual(oneHot(3));
    expect(embedder.texts).toEqual([]);
    await expect(service.search({ text: 'nothing', clipText: '' })).rejects.toMatchObject({
      code: 'query_invalid',
      userMessage: 'Tell me what to look for.',
    });
  });

  it('an image the embedder cannot read is image_invalid; too large keeps its own code and words', async () => {
    const embedder = new FakeEmbedder();
    embedder.embedImages = () => Promise.reject(new Error('vips: bad header'));
    const { service } = stack(distinctPhotos(4), { embedder });
    await expect(service.search({ text: '', image: Buffer.from('x') })).rejects.toMatchObject({
      code: 'image_invalid',
      userMessage: "I couldn't read that image.",
    });
    const cause = new Error('vips: bad header');
    embedder.embedImages = () => Promise.reject(cause);
    await expect(service.search({ text: '', image: Buffer.from('x') })).rejects.toMatchObject({ cause });
    // The embedder's own worded refusal is passed on as it is.
    const notAnImage = new ImageSearchError('image_invalid', 'That file is a PDF, not a photo.');
    embedder.embedImages = () => Promise.reject(notAnImage);
    await expect(service.search({ text: '', image: Buffer.from('x') })).rejects.toBe(notAnImage);
    const tooLarge = new ImageSearchError('image_too_large', 'Too many pixels.');
    embedder.checkImage = () => Promise.reject(tooLarge);
    await expect(service.checkImage(Buffer.from('x'))).rejects.toBe(tooLarge);
    await expect(service.search({ text: '', image: Buffer.from('x') })).rejects.toBe(tooLarge);
  });
});

describe('SearchPipeline: reranking', () => {
  const photos = distinctPhotos(10);
  const allIds = photos.map((p) => p.id);

  it('fetches every candidate tile once while Gemini ranks, and shows its order with reasons', async () => {
    const reranker = new FakeReranker();
    const { service, images, grid } = stack(photos, { reranker });
    const r = await service.search({ text: 'cats' });
    expect(reranker.calls).toEqual([{ query: 'cats', ids: allIds, want: 4 }]);
    expect(r.rankedBy).toBe('gemini');
    expect(r.fallbackReason).toBeUndefined();
    expect(ids(r.picks)).toEqual(['p9', 'p8', 'p7', 'p6']);
    expect(r.picks.map((p) => [p.n, p.reason])).toEqual([
      [1, 'because p9'],
      [2, 'because p8'],
      [3, 'because p7'],
      [4, 'because p6'],
    ]);
    expect(r.candidates).toEqual(photos.map((p) => ({ id: p.id, score: p.score })));
    // No empty optional fields: a reply without a fallback has no fallbackReason key.
    expect(Object.keys(r)).not.toContain('fallbackReason');
    expect(fetched(images)).toEqual([...allIds].sort());
    expect(images.gets[0]).toBe('p0@640');
    // Gemini's thumbnails are the grid's fetches: no second fetch per candidate.
    expect(reranker.images).toEqual(allIds.map(imageBytes));
    expect(images.gets).toHaveLength(allIds.length);
    expect(grid.calls).toHaveLength(1);
    expect(grid.calls[0]!.tiles).toEqual(
      ['p9', 'p8', 'p7', 'p6'].map((id, i) => ({ n: i + 1, image: imageBytes(id) })),
    );
    expect(r.grid).toEqual(GRID_BYTES);
    expect(r.mime).toBe('image/png');
    expect(r.fileName).toBe('imagesearch-cats.png');
  });

  it('compose: false draws nothing and fetches no tile, even when Gemini ranks', async () => {
    const reranker = new FakeReranker();
    const { service, images, grid } = stack(photos, { reranker });
    const r = await service.search({ text: 'cats', compose: false });
    expect(ids(r.picks)).toEqual(['p9', 'p8', 'p7', 'p6']);
    expect(images.gets).toEqual([]);
    // No grid to share with: the reranker fetches its own thumbnails.
    expect(reranker.images).toEqual(allIds.map(() => undefined));
    expect(grid.calls).toEqual([]);
    expect(r.grid).toHaveLength(0);
    expect(r.mime).toBe('image/jpeg');
    expect(r.fileName).toBe('imagesearch-cats.jpg');
  });

  const clipCases: Array<[string, SearchQuery, boolean, string]> = [
    ['rerank: false', { text: 'cats', rerank: false }, true, 'rerank_skipped'],
    ['no reranker', { text: 'cats' }, false, 'reranker_disabled'],
    ['no query text', { text: '', vector: oneHot(3) }, true, 'no_query_text'],
    ['no more candidates than wanted', { text: 'cats', candidates: 4 }, true, 'too_few_candidates'],
  ];
  it.each(clipCases)(
    '%s: CLIP order, says why, fetches only the picks',
    async (_, query, withReranker, why) => {
      const reranker = new FakeReranker();
      const { service, images } = stack(photos, withReranker ? { reranker } : {});
      const r = await service.search(query);
      expect(reranker.calls).toEqual([]);
      expect(r.rankedBy).toBe('clip');
      expect(r.fallbackReason).toBe(why);
      expect(ids(r.picks)).toEqual(['p0', 'p1', 'p2', 'p3']);
      expect(fetched(images)).toEqual(['p0', 'p1', 'p2', 'p3']);
    },
  );

  it('leaves out ids the reranker made up', async () => {
    const reranker = new FakeReranker(() => ({ order: ['ghost', 'p4', 'p2'], rankedBy: 'gemini' }));
    const { service } = stack(photos, { reranker });
    const r = await service.search({ text: 'cats', want: 2 });
    expect(r.picks.map((p) => [p.id, p.n])).toEqual([
      ['p4', 1],
      ['p2', 2],
    ]);
  });

  it("remembers Gemini's order for the same text and candidates, not for other candidates", async () => {
    // Candidate lists "a,bc" and "ab,c": the same characters, different photos.
    const lookalikes = [
      { id: 'a', score: 0.9, slot: 1 },
      { id: 'bc', score: 0.8, slot: 2 },
      { id: 'ab', score: 0.7, slot: 3 },
      { id: 'c', score: 0.6, slot: 4 },
    ];
    const reranker = new FakeReranker();
    const { service } = stack(lookalikes, { reranker });
    const q = { text: 'cats', want: 1, candidates: 2 };
    expect(ids((await service.search(q)).picks)).toEqual(['bc']);
    expect(ids((await service.search(q)).picks)).toEqual(['bc']);
    const more = await service.search({ ...q, exclude: new Set(['a', 'bc']) });
    expect(ids(more.picks)).toEqual(['c']);
    expect(reranker.calls.map((c) => c.ids)).toEqual([
      ['a', 'bc'],
      ['ab', 'c'],
    ]);
  });

  it('does not remember a fallback answer: the next search asks again', async () => {
    const reranker = new FakeReranker((_q, list, want) => ({
      order: list.slice(0, want),
      rankedBy: 'clip',
      fallbackReason: 'timeout',
    }));
    const { service } = stack(photos, { reranker });
    const r = await service.search({ text: 'cats' });
    expect(r.fallbackReason).toBe('timeout');
    await service.search({ text: 'cats' });
    expect(reranker.calls).toHaveLength(2);
  });

  it('keeps at most rerankCacheSize orders', async () => {
    const reranker = new FakeReranker();
    const { service } = stack(photos, { reranker, rerankCacheSize: 1 });
    await service.search({ text: 'cats' });
    await service.search({ text: 'dogs' });
    await service.search({ text: 'cats' });
    expect(reranker.calls.map((c) => c.query)).toEqual(['cats', 'dogs', 'cats']);
  });
});

describe('SearchPipeline: candidates, junk floor and near-duplicates', () => {
  it('with suppression off, asks the index once for the candidates, leaving out shown ids', async () => {
    const photos = [
      { id: 'shown', score: 0.95, slot: 1 },
      { id: 'twin1', score: 0.9, slot: 2 },
      { id: 'twin2', score: 0.8, slot: 2 },
      { id: 'edge', score: 0.5, slot: 3 },
      { id: 'junk', score: 0.49, slot: 4 },
    ];
    const { service, index } = stack(photos, { nearDuplicateCosine: 1.01, minScore: 0.5 });
    const r = await service.search({ text: 'cats', exclude: new Set(['shown']) });
    expect(ids(r.picks)).toEqual(['twin1', 'twin2', 'edge']);
    expect(r.nearDuplicates).toBeUndefined();
    expect(index.searches).toEqual([{ k: 10, exclude: ['shown'] }]);
  });

  it('at cosine 1 only exact copies are near-duplicates; a hit right at the floor stays', async () => {
    const photos = [
      { id: 'twin1', score: 0.9, slot: 2 },
      { id: 'twin2', score: 0.8, slot: 2 },
      { id: 'edge', score: 0.5, slot: 3 },
      { id: 'junk', score: 0.49, slot: 4 },
    ];
    const { service } = stack(photos, { nearDuplicateCosine: 1, minScore: 0.5 });
    const r = await service.search({ text: 'cats' });
    expect(ids(r.picks)).toEqual(['twin1', 'edge']);
    expect(r.nearDuplicates).toBe(1);
  });

  it('takes vectors from the hits and remembers those of shown photos: no separate reads', async () => {
    const photos = distinctPhotos(10);
    const { service, index } = stack(photos);
    const first = await service.search({ text: 'cats' });
    const second = await service.search({ text: 'cats', exclude: new Set(ids(first.picks)) });
    expect(ids(second.picks)).toEqual(['p4', 'p5', 'p6', 'p7']);
    expect(index.vectorReads).toEqual([]);
    expect(index.searches).toEqual([
      { k: 30, withVectors: true },
      { k: 30, exclude: ['p0', 'p1', 'p2', 'p3'], withVectors: true },
    ]);
  });

  it('reads each vector once from an engine whose hits lack them, and still finds copies', async () => {
    const photos = [...duplicatePhotos(2, 'd', 0), ...distinctPhotos(4, 'p', 1, 0.5)];
    const { service, index } = stack(photos, { carriesVectors: false });
    const r = await service.search({ text: 'cats' });
    expect(ids(r.picks)).toEqual(['d0', 'p0', 'p1', 'p2']);
    expect(r.nearDuplicates).toBe(1);
    await service.search({ text: 'cats' });
    expect([...index.vectorReads].sort()).toEqual(['d0', 'd1', 'p0', 'p1', 'p2', 'p3']);
  });

  it('compares candidates with the last 40 shown photos only', async () => {
    const shown = distinctPhotos(41, 'shown', 10, 0.5, 0);
    const photos = [
      ...shown,
      { id: 'twinOfOldest', score: 0.9, slot: 10 },
      { id: 'twinOfSecond', score: 0.88, slot: 11 },
      { id: 'twinOfNewest', score: 0.85, slot: 50 },
      { id: 'other', score: 0.8, slot: 60 },
      { id: 'another', score: 0.7, slot: 61 },
    ];
    const { service } = stack(photos);
    const r = await service.search({
      text: 'cats',
      want: 2,
      candidates: 2,
      exclude: new Set(shown.map((p) => p.id)),
    });
    expect(ids(r.picks)).toEqual(['twinOfOldest', 'other']);
    expect(r.nearDuplicates).toBe(2);
  });

  it('an excluded id the index no longer has is skipped, not compared', async () => {
    const { service, index } = stack(distinctPhotos(6));
    const r = await service.search({ text: 'cats', exclude: new Set(['gone', 'p0']) });
    expect(ids(r.picks)).toEqual(['p1', 'p2', 'p3', 'p4']);
    expect(r.nearDuplicates).toBeUndefined();
    expect(index.vectorReads).toEqual(['gone', 'p0']);
  });

  it('widens the pool until enough distinct candidates are found, and logs what it left out', async () => {
    const { logger, entries } = recordingLogger();
    const photos = [...duplicatePhotos(8, 'd', 0), ...distinctPhotos(12, 'u', 1)];
    const { service, index } = stack(photos, { logger });
    const r = await service.search({ text: 'cats', want: 2, candidates: 2 });
    expect(ids(r.picks)).toEqual(['d0', 'u0']);
    expect(r.nearDuplicates).toBe(7);
    expect(index.searches.map((s) => s.k)).toEqual([6, 18]);
    const dropped = entries().filter((e) => e.msg === 'near-duplicates left out of the candidates');
    expect(dropped).toHaveLength(1);
    expect(dropped[0]!.level).toBe(20);
    expect(dropped[0]!.dropped).toEqual(
      ['d1', 'd2', 'd3', 'd4', 'd5', 'd6', 'd7'].map((id) => ({ id, duplicateOf: 'd0' })),
    );
  });

  it('stops widening when the index has nothing more', async () => {
    const { service, index } = stack(duplicatePhotos(5, 'd', 0));
    const r = await service.search({ text: 'cats', want: 2, candidates: 2 });
    expect(ids(r.picks)).toEqual(['d0']);
    expect(r.nearDuplicates).toBe(4);
    expect(index.searches.map((s) => s.k)).toEqual([6]);
  });

  it('stops widening when the junk floor cut the pool', async () => {
    const photos = [...duplicatePhotos(3, 'd', 0), ...distinctPhotos(10, 'junk', 1, 0.1)];
    const { service, index } = stack(photos);
    const r = await service.search({ text: 'cats', want: 2, candidates: 2 });
    expect(ids(r.picks)).toEqual(['d0']);
    expect(r.nearDuplicates).toBe(2);
    expect(index.searches.map((s) => s.k)).toEqual([6]);
  });

  it('gives up at 27 times the candidates wanted', async () => {
    const { service, index } = stack(duplicatePhotos(100, 'd', 0, 0.99, 0.0001));
    const r = await service.search({ text: 'cats', want: 2, candidates: 2 });
    expect(ids(r.picks)).toEqual(['d0']);
    expect(r.nearDuplicates).toBe(53);
    expect(index.searches.map((s) => s.k)).toEqual([6, 18, 54]);
  });

  it('logs nothing about near-duplicates when there were none', async () => {
    const { logger, entries } = recordingLogger();
    const { service } = stack(distinctPhotos(10), { logger });
    await service.search({ text: 'cats' });
    expect(entries().map((e) => e.msg)).toEqual(['search']);
  });
});

describe('SearchPipeline: grid, caption and log', () => {
  const credited = (): FakePhoto[] => [
    { id: 'p0', score: 0.9, slot: 0, credit: { name: 'Ana', source: 'Unsplash' } },
    { id: 'p1', score: 0.8, slot: 1, credit: { name: 'Bo' } },
    { id: 'p2', score: 0.7, slot: 2 },
    { id: 'p3', score: 0.6, slot: 3, credit: { name: '' } },
    { id: 'p4', score: 0.5, slot: 4, credit: { name: 'Cy', source: 'Flickr' } },
  ];

  it('credits photographers in the caption and the grid footer, in tile order', async () => {
    const { service, grid } = stack(credited());
    const r = await service.search({ text: 'cats' });
    expect(r.caption).toBe('Results for “cats” — 1: Photo by Ana on Unsplash · 2: Photo by Bo');
    expect(grid.calls[0]!.footer).toEqual(['cats', '1 Ana · 2 Bo']);
    const five = await service.search({ text: 'cats', want: 5 });
    expect(five.caption).toBe(
      'Results for “cats” — 1: Photo by Ana on Unsplash · 2: Photo by Bo · 5: Photo by Cy on Flickr',
    );
  });

  it('without query text or credits: a plain head, and a footer with only what there is', async () => {
    const { service, grid } = stack(credited());
    const r = await service.search({ text: '', vector: oneHot(1), want: 2 });
    expect(r.caption).toBe('Results — 1: Photo by Ana on Unsplash · 2: Photo by Bo');
    expect(r.fileName).toBe('imagesearch-results.png');
    expect(grid.calls[0]!.footer).toEqual(['1 Ana · 2 Bo']);
    const bare = stack(distinctPhotos(3));
    const plain = await bare.service.search({ text: 'cats' });
    expect(plain.caption).toBe('Results for “cats”');
    expect(bare.grid.calls[0]!.footer).toEqual(['cats']);
  });

  it('says when nothing is good enough, with or without query text', async () => {
    const { service, grid } = stack(distinctPhotos(3, 'p', 0, 0.1));
    const r = await service.search({ text: 'cats' });
    expect(r.picks).toEqual([]);
    expect(r.caption).toBe('Results for “cats”: nothing good enough to show.');
    expect(grid.calls).toEqual([]);
    expect((await service.search({ text: '', vector: oneHot(0) })).caption).toBe(
      'Results: nothing good enough to show.',
    );
  });

  it('creditLine numbers the credited picks only', () => {
    const pick = (n: number, name?: string): Pick => ({
      id: `p${n}`,
      score: 0.5,
      n,
      entry: name === undefined ? { id: `p${n}` } : { id: `p${n}`, credit: { name } },
    });
    expect(creditLine([pick(1, 'Ana'), pick(2), pick(3, 'Bo'), pick(4, '')])).toBe('1 Ana · 3 Bo');
    expect(creditLine([pick(1)])).toBe('');
  });

  it('a tile whose image fails becomes a placeholder, and the failure is logged', async () => {
    const { logger, entries } = recordingLogger();
    const images = new FakeImages((id) => (id === 'p1' ? 'fail' : 'ok'));
    const { service, grid } = stack(distinctPhotos(3), { logger, images });
    const r = await service.search({ text: 'cats', want: 2 });
    expect(ids(r.picks)).toEqual(['p0', 'p1']);
    expect(grid.calls[0]!.tiles).toEqual([
      { n: 1, image: imageBytes('p0') },
      { n: 2, image: null },
    ]);
    const warn = entries().filter((e) => e.level === 40);
    expect(warn.map((e) => [e.msg, e.id, e.err])).toEqual([
      ['grid tile unavailable', 'p1', 'no file for p1'],
    ]);
  });

  it('a tile not fetched by its deadline becomes a placeholder, and the fetch is told why', async () => {
    const { logger, entries } = recordingLogger();
    const images = new FakeImages((id) => (id === 'p0' ? 'hang' : 'ok'));
    const { service, grid } = stack(distinctPhotos(3), {
      logger,
      images,
      tileTimeoutMs: 20,
      tileFetchWidth: 300,
    });
    await service.search({ text: 'cats', want: 2 });
    expect(images.gets).toEqual(['p0@300', 'p1@300']);
    expect(grid.calls[0]!.tiles).toEqual([
      { n: 1, image: null },
      { n: 2, image: imageBytes('p1') },
    ]);
    expect(images.abortReasons).toEqual(['tile of 20 ms passed']);
    const warn = entries().filter((e) => e.level === 40);
    expect(warn.map((e) => [e.msg, e.id, e.err])).toEqual([['grid tile unavailable', 'p0', 'timeout']]);
  });

  describe('with a fake clock', () => {
    afterEach(() => {
      vi.useRealTimers();
    });

    it('reports each stage in milliseconds and logs the search', async () => {
      vi.useFakeTimers({ toFake: ['performance'] });
      const { logger, entries } = recordingLogger();
      const reranker = new FakeReranker((_q, list, want) => {
        vi.advanceTimersByTime(25);
        return { order: list.slice(0, want), rankedBy: 'gemini' };
      });
      const { service } = stack(distinctPhotos(10), { logger, reranker });
      const r = await service.search({ text: 'cats', want: 2 });
      const timings = { encode: 0, search: 0, rerank: 25, compose: 0, total: 25 };
      expect(r.timingsMs).toEqual(timings);
      const search = entries().filter((e) => e.msg === 'search');
      expect(search).toHaveLength(1);
      expect(search[0]).toMatchObject({
        level: 20,
        query: 'cats',
        picks: ['p0', 'p1'],
        rankedBy: 'gemini',
        timings,
      });
    });
  });
});

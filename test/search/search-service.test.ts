import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanSlackText } from '../../adapters/slack/text.ts';
import type { Embedder } from '../../src/core/types.ts';
import { SharpGridRenderer } from '../../src/grid/grid-renderer.ts';
import { LocalAndRemoteImageStore } from '../../src/images/image-store.ts';
import { GeminiClient } from '../../src/rerank/gemini-client.ts';
import { GeminiReranker } from '../../src/rerank/gemini-reranker.ts';
import { SearchPipeline } from '../../src/search/search-service.ts';
import { silentLogger } from '../../src/util/logger.ts';
import { cleanQuery } from '../../src/util/query-text.ts';
import { type GeminiPeer, startGeminiPeer } from '../peers/gemini-peer.ts';
import { conversationHarness, results } from '../support/conversation.ts';
import { testEngines } from '../support/engines.ts';
import { createTestSearchService, type TestSearchStack } from '../support/models.ts';

const logger = silentLogger();
/** Long enough for a cold first call (thumbnails included) on a loaded CI machine. */
const GEMINI_TIMEOUT_MS = 1500;

describe('search pipeline (tiny model, 11-image index)', () => {
  let stack: TestSearchStack;
  let peer: GeminiPeer;
  let gemini: SearchPipeline;
  let counting: Embedder & { texts: number };

  beforeAll(async () => {
    stack = await createTestSearchService();
    peer = await startGeminiPeer({ mode: 'success' });
    const images = new LocalAndRemoteImageStore({ allowedHosts: [], imagesRoot: stack.index.imagesRoot! });
    const reranker = new GeminiReranker({
      gemini: new GeminiClient({ apiKey: 'k', baseUrl: peer.url, timeoutMs: GEMINI_TIMEOUT_MS, logger }),
      imageStore: images,
    });
    counting = {
      modelId: stack.model.modelId,
      dim: stack.model.dim,
      texts: 0,
      embedTexts: async (t) => {
        counting.texts += t.length;
        return stack.model.embedTexts(t);
      },
      embedImages: (i) => stack.model.embedImages(i),
      checkImage: (b) => stack.model.checkImage(b),
    };
    gemini = new SearchPipeline({
      embedder: counting,
      index: stack.index,
      grid: new SharpGridRenderer(),
      images,
      reranker,
      logger,
      minScore: -1,
    });
  });
  afterAll(async () => {
    await peer.close();
    await stack.close();
  });

  it('answers with 4 numbered picks, a JPEG grid, a caption and stage timings', async () => {
    // Markup is undone by the Slack adapter and text cleaned where it enters the core; the pipeline trusts it.
    const r = await stack.search.search({
      text: cleanQuery(cleanSlackText('a cat &amp; a <@U123> dog')).text,
    });
    expect(r.query).toBe('a cat & a dog');
    expect(r.picks.map((p) => p.n)).toEqual([1, 2, 3, 4]);
    expect(r.mime).toBe('image/jpeg');
    expect((await sharp(r.grid).metadata()).format).toBe('jpeg');
    expect(r.fileName).toBe('imagesearch-a-cat-a-dog.jpg');
    expect(r.caption).toContain('a cat & a dog');
    expect(r.rankedBy).toBe('clip');
    for (const k of ['encode', 'search', 'rerank', 'compose', 'total'] as const)
      expect(r.timingsMs[k]).toBeGreaterThanOrEqual(0);
  });

  it('a chat request is encoded inside the pipeline: its encode and total timings count the CLIP calls', async () => {
    // The real model, each text call held 25 ms longer: the encode stage must hold both calls.
    const slowTexts: Embedder = {
      ...counting,
      modelId: counting.modelId,
      dim: counting.dim,
      embedTexts: async (t) => {
        await new Promise((r) => setTimeout(r, 25));
        return counting.embedTexts(t);
      },
    };
    // No reranker; behind the real conversation engine.
    const pipeline = new SearchPipeline({
      embedder: slowTexts,
      index: stack.index,
      grid: new SharpGridRenderer(),
      images: new LocalAndRemoteImageStore({ allowedHosts: [], imagesRoot: stack.index.imagesRoot! }),
      logger,
      minScore: -1,
    });
    const { ask } = conversationHarness(pipeline);
    const before = counting.texts;
    const r = results(await ask('a tabby cat, without dogs'));
    // The words and the negative, encoded once each by the pipeline itself.
    expect(counting.texts).toBe(before + 2);
    const t = r.reply.timingsMs;
    expect(t.encode).toBeGreaterThanOrEqual(45);
    expect(t.total).toBeGreaterThanOrEqual(t.encode! + t.search! + t.compose!);
  });

  it('Gemini reorders CLIP top 10, with reasons, and a repeat is served from the caches', async () => {
    const clip = await stack.search.search({ text: 'red bricks' });
    const before = peer.requests.length;
    const textsBefore = counting.texts;
    const r = await gemini.search({ text: 'red bricks' });
    expect(r.rankedBy).toBe('gemini');
    expect(r.picks.map((p) => p.id)).not.toEqual(clip.picks.map((p) => p.id));
    expect(peer.requests.length).toBe(before + 1);
    const again = await gemini.search({ text: 'red bricks' });
    expect(again.picks.map((p) => p.id)).toEqual(r.picks.map((p) => p.id));
    expect(peer.requests.length).toBe(before + 1); // rerank cache
    expect(counting.texts).toBe(textsBefore + 1); // embedding cache
  });

  it('falls back to CLIP order by the deadline when Gemini hangs, and says why', async () => {
    peer.setMode('hang');
    try {
      const t = performance.now();
      const r = await gemini.search({ text: 'rocket at night' });
      expect(r.rankedBy).toBe('clip');
      expect(r.fallbackReason).toBe('timeout');
      expect(r.timingsMs.rerank!).toBeLessThan(GEMINI_TIMEOUT_MS + 400);
      expect(performance.now() - t).toBeLessThan(GEMINI_TIMEOUT_MS + 2000);
      peer.setMode('429');
      const limited = await gemini.search({ text: 'coins on a table' });
      expect(limited).toMatchObject({ rankedBy: 'clip', fallbackReason: 'rate_limited' });
      expect(limited.picks).toHaveLength(4);
    } finally {
      peer.setMode('success');
    }
  });

  it("composes CLIP's grid before the Gemini deadline: a hang is answered with it, a reorder with Gemini's own", async () => {
    const events: string[] = [];
    const renders: { ids: number[]; bytes: Buffer }[] = [];
    const sharpGrid = new SharpGridRenderer();
    const images = new LocalAndRemoteImageStore({ allowedHosts: [], imagesRoot: stack.index.imagesRoot! });
    const gemini = new GeminiReranker({
      gemini: new GeminiClient({ apiKey: 'k', baseUrl: peer.url, timeoutMs: GEMINI_TIMEOUT_MS, logger }),
      imageStore: images,
    });
    const service = new SearchPipeline({
      embedder: stack.model,
      index: stack.index,
      images,
      logger,
      minScore: -1,
      grid: {
        async render(tiles, opts) {
          events.push('render');
          const grid = await sharpGrid.render(tiles, opts);
          renders.push({ ids: tiles.map((t) => t.n), bytes: grid.bytes });
          return grid;
        },
      },
      reranker: {
        modelId: gemini.modelId,
        deadlineMs: gemini.deadlineMs,
        async rerank(...args: Parameters<GeminiReranker['rerank']>) {
          const r = await gemini.rerank(...args);
          events.push(`rerank ${r.rankedBy}`);
          return r;
        },
      },
    });
    peer.setMode('hang');
    try {
      const hung = await service.search({ text: 'a lighthouse in fog' });
      expect(hung.fallbackReason).toBe('timeout');
      // One render, started before the deadline ended the rerank; its grid is the answer.
      expect(events[0]).toBe('render');
      expect(events.filter((e) => e === 'render')).toHaveLength(1);
      expect(hung.grid.equals(renders[0]!.bytes)).toBe(true);
    } finally {
      peer.setMode('success');
    }
    events.length = 0;
    renders.length = 0;
    const clip = await stack.search.search({ text: 'red bricks on a wall' });
    const reordered = await service.search({ text: 'red bricks on a wall' });
    expect(reordered.rankedBy).toBe('gemini');
    expect(reordered.picks.map((p) => p.id)).not.toEqual(clip.picks.map((p) => p.id));
    // Gemini's picks get their own grid, and that is the answer (CLIP's is composed too only when
    // Gemini is still thinking near its deadline).
    expect(events.filter((e) => e === 'render').length).toBeGreaterThanOrEqual(1);
    expect(events.at(-1)).toBe('render');
    expect(reordered.grid.equals(renders.at(-1)!.bytes)).toBe(true);
  });

  it("answers by the reranker's deadline from the search's start, even when the reranker never returns", async () => {
    const service = new SearchPipeline({
      embedder: stack.model,
      index: stack.index,
      images: new LocalAndRemoteImageStore({ allowedHosts: [], imagesRoot: stack.index.imagesRoot! }),
      grid: new SharpGridRenderer(),
      logger,
      minScore: -1,
      // Ignores its signal and never settles: only the pipeline's own deadline can end the wait.
      reranker: { modelId: 'stuck', deadlineMs: 300, rerank: () => new Promise(() => {}) },
    });
    const r = await service.search({ text: 'a rocket on the launchpad' });
    expect(r).toMatchObject({ rankedBy: 'clip', fallbackReason: 'timeout' });
    expect(r.picks).toHaveLength(4);
    expect(r.grid.length).toBeGreaterThan(0);
  });

  it('excludes ids already shown and stops when nothing is left', async () => {
    const seen = new Set<string>();
    for (let round = 0; round < 3; round++) {
      const r = await stack.search.search({ text: 'anything', exclude: seen, rerank: false });
      for (const p of r.picks) {
        expect(seen.has(p.id)).toBe(false);
        seen.add(p.id);
      }
    }
    expect(seen.size).toBe(11);
    const empty = await stack.search.search({ text: 'anything', exclude: seen });
    expect(empty.picks).toHaveLength(0);
    expect(empty.caption).toMatch(/nothing good enough/);
  });

  it('applies the junk floor', async () => {
    const strict = new SearchPipeline({
      embedder: stack.model,
      index: stack.index,
      grid: new SharpGridRenderer(),
      images: new LocalAndRemoteImageStore({ allowedHosts: [] }),
      logger,
      minScore: 0.99,
    });
    const text = await strict.search({ text: 'a cat' });
    expect(text.picks).toHaveLength(0);
    const [v] = await stack.model.embedImages([
      await sharp(
        path.join(stack.index.imagesRoot!, (await stack.index.getEntry('cat_chelsea.png'))!.path!),
      ).toBuffer(),
    ]);
    const self = await strict.search({ text: 'like this', vector: v! });
    expect(self.picks.map((p) => p.id)).toEqual(['cat_chelsea.png']);
  });

  it('a missing image file becomes a placeholder tile, not an error', async () => {
    const broken = new SearchPipeline({
      embedder: stack.model,
      index: stack.index,
      grid: new SharpGridRenderer(),
      images: new LocalAndRemoteImageStore({ allowedHosts: [], imagesRoot: '/nonexistent-root' }),
      logger,
      minScore: -1,
    });
    const r = await broken.search({ text: 'a cat' });
    expect(r.picks).toHaveLength(4);
    expect((await sharp(r.grid).metadata()).width).toBeGreaterThan(500);
  });
});

// The same pipeline over each index engine: the engine never changes the picks, their exact scores,
// the exclusions or the junk floor.
describe.each(testEngines().filter((e) => e === 'int8' || e === 'lancedb'))(
  'search pipeline over the %s engine',
  (engine) => {
    let flat: TestSearchStack;
    let other: TestSearchStack;
    beforeAll(async () => {
      flat = await createTestSearchService();
      other = await createTestSearchService({ engine });
    });
    afterAll(async () => {
      await flat?.close();
      await other?.close();
    });

    it('answers like flat: same picks and scores, same exclusions, same junk floor', async () => {
      expect(other.index.engine).toBe(engine);
      for (const text of ['a cat', 'a rocket on a launchpad', 'black and white portrait']) {
        const a = await flat.search.search({ text, rerank: false });
        const b = await other.search.search({ text, rerank: false });
        expect(b.picks.map((p) => p.id)).toEqual(a.picks.map((p) => p.id));
        for (const [i, p] of b.picks.entries()) expect(p.score).toBeCloseTo(a.picks[i]!.score, 5);
        expect(b.caption).toBe(a.caption);
      }
      const seen = new Set<string>();
      for (let round = 0; round < 3; round++) {
        const r = await other.search.search({ text: 'anything', exclude: seen, rerank: false });
        for (const p of r.picks) {
          expect(seen.has(p.id)).toBe(false);
          seen.add(p.id);
        }
      }
      expect(seen.size).toBe(11);
      const strict = new SearchPipeline({
        embedder: other.model,
        index: other.index,
        grid: new SharpGridRenderer(),
        images: new LocalAndRemoteImageStore({ allowedHosts: [] }),
        logger,
        minScore: 0.99,
      });
      expect((await strict.search({ text: 'a cat' })).picks).toHaveLength(0);
      const v = await other.index.getVector('cat_chelsea.png');
      expect((await strict.search({ text: 'like this', vector: v! })).picks.map((p) => p.id)).toEqual([
        'cat_chelsea.png',
      ]);
    });
  },
);

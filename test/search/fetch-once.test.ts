/**
 * A cold search fetches each candidate image once: the pipeline's grid fetch (640 px) is also what
 * Gemini's 384 px thumbnail is made from. Real parts throughout: the image store over HTTP from a
 * local image server that counts requests, the Gemini reranker against the local Gemini peer, the
 * sharp grid. Only the index and the embedder are small doubles of our own ports.
 */
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SharpGridRenderer } from '../../src/grid/grid-renderer.ts';
import { LocalAndRemoteImageStore } from '../../src/images/image-store.ts';
import { GeminiClient } from '../../src/rerank/gemini-client.ts';
import { GeminiReranker } from '../../src/rerank/gemini-reranker.ts';
import { SearchPipeline } from '../../src/search/search-service.ts';
import { silentLogger } from '../../src/util/logger.ts';
import { type GeminiPeer, startGeminiPeer } from '../peers/gemini-peer.ts';
import type { FakePhoto } from '../support/search-service-fakes.ts';
import { distinctPhotos, FakeEmbedder, FakeIndex } from '../support/search-service-fakes.ts';

/** An index whose photos live on the local image server. */
class RemoteIndex extends FakeIndex {
  constructor(
    photos: FakePhoto[],
    private readonly base: string,
  ) {
    super(photos);
  }
  override entryOf(p: FakePhoto) {
    return { id: p.id, url: `${this.base}/${p.id}.png` };
  }
}

describe('a cold search fetches each candidate image once', () => {
  const requests = new Map<string, number>();
  let server: http.Server;
  let base: string;
  let peer: GeminiPeer;
  let png: Buffer;

  beforeAll(async () => {
    png = await sharp({ create: { width: 1200, height: 800, channels: 3, background: '#3a7' } })
      .png()
      .toBuffer();
    server = http.createServer((req, res) => {
      const path = new URL(req.url ?? '/', 'http://x').pathname;
      requests.set(path, (requests.get(path) ?? 0) + 1);
      res.writeHead(200, { 'content-type': 'image/png', 'content-length': png.length }).end(png);
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    peer = await startGeminiPeer({ mode: 'success' });
  });
  afterAll(async () => {
    await peer.close();
    await new Promise((r) => server.close(r));
  });

  it('10 candidates, Gemini shown 10 thumbnails, a 4-tile grid: 10 image requests', async () => {
    const photos = distinctPhotos(10);
    const images = new LocalAndRemoteImageStore({ allowedHosts: ['127.0.0.1'], trustedHosts: ['127.0.0.1'] });
    const logger = silentLogger();
    const pipeline = new SearchPipeline({
      embedder: new FakeEmbedder(),
      index: new RemoteIndex(photos, base),
      grid: new SharpGridRenderer(),
      images,
      reranker: new GeminiReranker({
        gemini: new GeminiClient({ apiKey: 'k', baseUrl: peer.url, timeoutMs: 5000, logger }),
        imageStore: images,
      }),
      logger,
    });
    const r = await pipeline.search({ text: 'cats' });
    expect(r.rankedBy).toBe('gemini');
    const shown = peer.requests[0]?.body.contents?.[0]?.parts?.filter((p) => p.inlineData) ?? [];
    expect(shown).toHaveLength(10);
    // Each thumbnail Gemini saw was cut down to its 384 px tile from the one fetch.
    for (const p of shown) {
      const meta = await sharp(Buffer.from(p.inlineData?.data ?? '', 'base64')).metadata();
      expect(Math.max(meta.width ?? 0, meta.height ?? 0)).toBeLessThanOrEqual(384);
    }
    expect((await sharp(r.grid).metadata()).format).toBe('jpeg');
    expect(Object.fromEntries(requests)).toEqual(Object.fromEntries(photos.map((p) => [`/${p.id}.png`, 1])));
  });
});

/**
 * SearchPipeline against the reranker's deadline, on a fake clock (performance and timers), so
 * every moment is exact: when CLIP's own grid is composed (500 ms before the deadline, counted from
 * the search's start), which grid answers, and what a reranker still waiting for thumbnails gets.
 */
import { getEventListeners } from 'node:events';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type {
  GridImage,
  GridOptions,
  GridRenderer,
  GridTile,
  RerankCandidate,
  Reranker,
  RerankResult,
  SearchQuery,
} from '../../src/core/types.ts';
import { SearchPipeline } from '../../src/search/search-service.ts';
import { silentLogger } from '../../src/util/logger.ts';
import {
  distinctPhotos,
  FakeEmbedder,
  FakeImages,
  FakeIndex,
  imageBytes,
  reversed,
} from '../support/search-service-fakes.ts';

/** A grid whose bytes name its tiles, so a reply's grid tells which picks it shows. */
class NamingGrid implements GridRenderer {
  readonly calls: Array<{ tiles: string[]; opts: GridOptions | undefined; at: number }> = [];

  async render(tiles: GridTile[], opts?: GridOptions): Promise<GridImage> {
    const names = tiles.map((t) => `${t.n}:${t.image ? t.image.toString('latin1') : 'none'}`);
    this.calls.push({ tiles: names, opts, at: performance.now() });
    return { bytes: Buffer.from(names.join('|')), mime: 'image/png', width: 2, height: 2 };
  }
}

/** A reranker with a deadline that answers (the candidates reversed) after `answerAfterMs`, or never. */
class TimedReranker implements Reranker {
  readonly modelId = 'timed';
  /** Why its signal aborted, as the reranker saw it. */
  readonly abortReasons: string[] = [];
  constructor(
    readonly deadlineMs: number,
    private readonly answerAfterMs: number | 'never',
    private readonly onCall?: (candidates: RerankCandidate[], signal: AbortSignal) => void,
  ) {}

  rerank(
    query: string,
    candidates: RerankCandidate[],
    want: number,
    signal?: AbortSignal,
  ): Promise<RerankResult> {
    const s = signal ?? new AbortController().signal;
    s.addEventListener('abort', () => this.abortReasons.push((s.reason as Error).message), { once: true });
    this.onCall?.(candidates, s);
    return new Promise((resolve) => {
      if (this.answerAfterMs !== 'never')
        setTimeout(
          () =>
            resolve(
              reversed(
                query,
                candidates.map((c) => c.id),
                want,
              ),
            ),
          this.answerAfterMs,
        );
    });
  }
}

const photos = distinctPhotos(10);
/** What a NamingGrid draws for these picks, numbered 1…n. */
const drawn = (ids: string[]) => ids.map((id, i) => `${i + 1}:${imageBytes(id).toString('latin1')}`);

function pipeline(
  reranker: Reranker,
  opts: { encodeMs?: number; images?: FakeImages; tileTimeoutMs?: number } = {},
) {
  const embedder = new FakeEmbedder();
  if (opts.encodeMs) {
    const plain = embedder.embedTexts.bind(embedder);
    // The encode takes this long on the fake clock.
    embedder.embedTexts = (texts) => {
      vi.advanceTimersByTime(opts.encodeMs!);
      return plain(texts);
    };
  }
  const grid = new NamingGrid();
  const service = new SearchPipeline({
    embedder,
    index: new FakeIndex(photos),
    grid,
    images: opts.images ?? new FakeImages(),
    reranker,
    logger: silentLogger(),
    ...(opts.tileTimeoutMs ? { tileTimeoutMs: opts.tileTimeoutMs } : {}),
  });
  return { service, grid };
}

/** Runs a search while the fake clock moves `ms` forward. */
async function searchFor(service: SearchPipeline, query: SearchQuery, ms: number) {
  const reply = service.search(query);
  await vi.advanceTimersByTimeAsync(ms);
  return reply;
}

describe('SearchPipeline: the reranker deadline, on a fake clock', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['performance', 'setTimeout', 'clearTimeout'] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("a reranker answering well before its deadline gets its own grid; CLIP's is never drawn, not even later", async () => {
    const { service, grid } = pipeline(new TimedReranker(1000, 10));
    const r = await searchFor(service, { text: 'cats' }, 10);
    expect(r.rankedBy).toBe('gemini');
    await vi.advanceTimersByTimeAsync(2000);
    expect(grid.calls.map((c) => c.tiles)).toEqual([drawn(['p9', 'p8', 'p7', 'p6'])]);
    expect(r.grid.toString()).toBe(drawn(['p9', 'p8', 'p7', 'p6']).join('|'));
  });

  it("a reranker answering after CLIP's grid was drawn (500 ms before the deadline) still gets its own", async () => {
    const { service, grid } = pipeline(new TimedReranker(1000, 700));
    const r = await searchFor(service, { text: 'cats' }, 700);
    expect(r.rankedBy).toBe('gemini');
    expect(grid.calls.map((c) => [c.at, c.tiles])).toEqual([
      [500, drawn(['p0', 'p1', 'p2', 'p3'])],
      [700, drawn(['p9', 'p8', 'p7', 'p6'])],
    ]);
    expect(r.grid.toString()).toBe(drawn(['p9', 'p8', 'p7', 'p6']).join('|'));
  });

  it("a silent reranker: CLIP's grid answers at the deadline counted from the search's start", async () => {
    const reranker = new TimedReranker(1000, 'never');
    const { service, grid } = pipeline(reranker, { encodeMs: 300 });
    const r = await searchFor(service, { text: 'cats' }, 1000);
    expect(r).toMatchObject({ rankedBy: 'clip', fallbackReason: 'timeout' });
    // The encode took 300 ms of the reranker's 1000.
    expect(r.timingsMs).toMatchObject({ encode: 300, rerank: 700, total: 1000 });
    expect(reranker.abortReasons).toEqual(['rerank of 700 ms passed']);
    expect(grid.calls.map((c) => [c.at, c.tiles])).toEqual([[500, drawn(['p0', 'p1', 'p2', 'p3'])]]);
    expect(r.grid.toString()).toBe(drawn(['p0', 'p1', 'p2', 'p3']).join('|'));
  });

  it('the format asked for reaches the grid renderer; none asked, none passed', async () => {
    const { service, grid } = pipeline(new TimedReranker(1000, 10));
    await searchFor(service, { text: 'cats', format: 'jpeg' }, 10);
    await searchFor(service, { text: 'dogs' }, 10);
    expect(grid.calls.map((c) => c.opts)).toEqual([
      { footer: ['cats'], format: 'jpeg' },
      { footer: ['dogs'] },
    ]);
  });

  it('a thumbnail the reranker waits for is given up (null) when its deadline ends; the tile fetch goes on for the grid', async () => {
    let thumbnails: { at: number; images: (Buffer | null)[] } | undefined;
    let rerankSignal: AbortSignal | undefined;
    const reranker = new TimedReranker(1000, 'never', (candidates, signal) => {
      rerankSignal = signal;
      void Promise.all(candidates.map((c) => c.image!(signal))).then((images) => {
        thumbnails = { at: performance.now(), images };
      });
    });
    // Every photo hangs until its tile deadline (3 s): the grid waits for them, Gemini does not.
    const { service, grid } = pipeline(reranker, {
      images: new FakeImages(() => 'hang'),
      tileTimeoutMs: 3000,
    });
    const r = await searchFor(service, { text: 'cats' }, 3000);
    expect(thumbnails).toEqual({ at: 1000, images: photos.map(() => null) });
    expect(r.fallbackReason).toBe('timeout');
    expect(grid.calls[0]!.tiles).toEqual(['1:none', '2:none', '3:none', '4:none']);
    // Nothing is left listening on the aborted signal.
    expect(getEventListeners(rerankSignal!, 'abort')).toEqual([]);
  });

  it('a thumbnail asked for with an already-aborted signal is null at once; a delivered one leaves no listener', async () => {
    const asked: Array<{ at: number; image: Buffer | null }> = [];
    const live = new AbortController();
    const reranker = new TimedReranker(1000, 'never', (candidates) => {
      const aborted = AbortSignal.abort();
      void candidates[0]!.image!(aborted).then((image) => asked.push({ at: performance.now(), image }));
      void candidates[1]!.image!(live.signal).then((image) => asked.push({ at: performance.now(), image }));
    });
    const images = new FakeImages((id) => (id === 'p0' ? 'hang' : 'ok'));
    const { service } = pipeline(reranker, { images, tileTimeoutMs: 3000 });
    await searchFor(service, { text: 'cats' }, 3000);
    expect(asked).toEqual([
      { at: 0, image: null },
      { at: 0, image: imageBytes('p1') },
    ]);
    expect(getEventListeners(live.signal, 'abort')).toEqual([]);
  });
});

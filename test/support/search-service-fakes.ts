/**
 * Small in-memory doubles of the search pipeline's ports (our own interfaces, passed through the
 * constructor) for unit tests of {@link SearchPipeline}: an index with chosen scores and
 * vectors that records what it is asked, an embedder, an image store, a grid renderer and a
 * reranker that record their calls, and a real pino logger writing into an array.
 */

import pino from 'pino';
import type {
  Credit,
  Embedder,
  GridImage,
  GridOptions,
  GridRenderer,
  GridTile,
  Hit,
  ImageStore,
  IndexEntry,
  RerankCandidate,
  Reranker,
  RerankResult,
  SearchOptions,
  VectorIndex,
} from '../../src/core/types.ts';
import type { Logger } from '../../src/util/logger.ts';

/** Dimension of every vector here: one-hot "slots", so two photos are identical or orthogonal. */
export const DIM = 64;
export const MODEL_ID = 'fake-clip';

export function oneHot(slot: number): Float32Array {
  const v = new Float32Array(DIM);
  v[slot] = 1;
  return v;
}

export interface FakePhoto {
  id: string;
  /** Cosine the index reports for every query. */
  score: number;
  /** Slot of the one-hot embedding: photos sharing a slot are exact duplicates (cosine 1). */
  slot: number;
  credit?: Credit;
}

/** Photos `${prefix}0…` with distinct slots from `firstSlot`, scores stepping down from `top`. */
export function distinctPhotos(n: number, prefix = 'p', firstSlot = 0, top = 0.9, step = 0.01): FakePhoto[] {
  return Array.from({ length: n }, (_, i) => ({
    id: `${prefix}${i}`,
    score: top - i * step,
    slot: firstSlot + i,
  }));
}

/** `n` photos sharing one slot (a burst of the same shot). */
export function duplicatePhotos(
  n: number,
  prefix: string,
  slot: number,
  top = 0.99,
  step = 0.001,
): FakePhoto[] {
  return Array.from({ length: n }, (_, i) => ({ id: `${prefix}${i}`, score: top - i * step, slot }));
}

export interface IndexCall {
  k: number;
  exclude?: string[];
  withVectors?: boolean;
}

export class FakeIndex implements VectorIndex {
  readonly dim: number;
  readonly modelId: string;
  /** Every `search` call, in order. */
  readonly searches: IndexCall[] = [];
  /** Every `getVector` id, in order. */
  readonly vectorReads: string[] = [];
  private readonly photos: FakePhoto[];
  private readonly carriesVectors: boolean;

  constructor(photos: FakePhoto[], opts: { modelId?: string; dim?: number; carriesVectors?: boolean } = {}) {
    this.photos = [...photos].sort((a, b) => b.score - a.score);
    this.modelId = opts.modelId ?? MODEL_ID;
    this.dim = opts.dim ?? DIM;
    this.carriesVectors = opts.carriesVectors ?? true;
  }

  get size(): number {
    return this.photos.length;
  }

  entryOf(p: FakePhoto): IndexEntry {
    const entry: IndexEntry = { id: p.id, path: `${p.id}.jpg` };
    if (p.credit) entry.credit = p.credit;
    return entry;
  }

  async search(_query: Float32Array, k: number, opts: SearchOptions = {}): Promise<Hit[]> {
    const call: IndexCall = { k };
    if (opts.exclude) call.exclude = [...opts.exclude];
    if (opts.withVectors !== undefined) call.withVectors = opts.withVectors;
    this.searches.push(call);
    return this.photos
      .filter((p) => !opts.exclude?.has(p.id))
      .slice(0, k)
      .map((p) => {
        const hit: Hit = { id: p.id, score: p.score, entry: this.entryOf(p) };
        if (opts.withVectors && this.carriesVectors) hit.vector = oneHot(p.slot);
        return hit;
      });
  }

  async getEntry(id: string): Promise<IndexEntry | undefined> {
    const p = this.photos.find((x) => x.id === id);
    return p && this.entryOf(p);
  }

  async getVector(id: string): Promise<Float32Array | undefined> {
    this.vectorReads.push(id);
    const p = this.photos.find((x) => x.id === id);
    return p && oneHot(p.slot);
  }
}

/** Text embedding of `text` here: slot = its length (mod DIM), so different lengths differ. */
export function textVector(text: string): Float32Array {
  return oneHot(text.length % DIM);
}

export class FakeEmbedder implements Embedder {
  readonly modelId: string;
  readonly dim: number;
  /** Every text encoded, in order. */
  readonly texts: string[] = [];
  /** Sizes of the image batches encoded. */
  readonly imageBatches: number[] = [];

  constructor(opts: { modelId?: string; dim?: number } = {}) {
    this.modelId = opts.modelId ?? MODEL_ID;
    this.dim = opts.dim ?? DIM;
  }

  async embedTexts(texts: string[]): Promise<Float32Array[]> {
    this.texts.push(...texts);
    return texts.map(textVector);
  }

  /** Sizes of the images whose headers were checked. */
  readonly checked: number[] = [];

  async checkImage(bytes: Buffer): Promise<void> {
    this.checked.push(bytes.length);
  }

  async embedImages(images: Buffer[]): Promise<Float32Array[]> {
    this.imageBatches.push(images.length);
    return images.map((b) => oneHot(b.length % DIM));
  }
}

/** Bytes the fake image store serves for a photo. */
export function imageBytes(id: string): Buffer {
  return Buffer.from(`image of ${id}`);
}

export type ImageBehaviour = 'ok' | 'fail' | 'hang';

export class FakeImages implements ImageStore {
  /** Every `get` as `id@width`, in order. */
  readonly gets: string[] = [];
  /** Messages of the abort reasons a hanging fetch saw. */
  readonly abortReasons: string[] = [];

  constructor(private readonly behaviour: (id: string) => ImageBehaviour = () => 'ok') {}

  async get(entry: IndexEntry, width: number, signal?: AbortSignal): Promise<Buffer> {
    this.gets.push(`${entry.id}@${width}`);
    const b = this.behaviour(entry.id);
    if (b === 'fail') throw new Error(`no file for ${entry.id}`);
    if (b === 'hang') {
      return new Promise<Buffer>((_, reject) => {
        signal?.addEventListener('abort', () => {
          this.abortReasons.push((signal.reason as Error).message);
          reject(signal.reason);
        });
      });
    }
    return imageBytes(entry.id);
  }
}

export const GRID_BYTES = Buffer.from('a rendered grid');

export class FakeGrid implements GridRenderer {
  readonly calls: Array<{ tiles: GridTile[]; footer: string[] | undefined }> = [];

  async render(tiles: GridTile[], opts?: GridOptions): Promise<GridImage> {
    this.calls.push({ tiles, footer: opts?.footer });
    return { bytes: GRID_BYTES, mime: 'image/png', width: 2, height: 2 };
  }
}

export type RerankAnswer = (query: string, ids: string[], want: number) => RerankResult;

/** Gemini's pretend answer: the candidates reversed, with a reason each. */
export const reversed: RerankAnswer = (_q, ids, want) => {
  const order = [...ids].reverse().slice(0, want);
  return { order, rankedBy: 'gemini', reasons: Object.fromEntries(order.map((id) => [id, `because ${id}`])) };
};

export class FakeReranker implements Reranker {
  readonly modelId = 'fake-gemini';
  readonly calls: Array<{ query: string; ids: string[]; want: number }> = [];
  /** The images the candidates carried (undefined: none), read as Gemini's thumbnails would be. */
  readonly images: Array<Buffer | null | undefined> = [];

  constructor(public answer: RerankAnswer = reversed) {}

  async rerank(
    query: string,
    candidates: RerankCandidate[],
    want: number,
    signal?: AbortSignal,
  ): Promise<RerankResult> {
    const ids = candidates.map((c) => c.id);
    this.calls.push({ query, ids, want });
    const s = signal ?? new AbortController().signal;
    this.images.push(...(await Promise.all(candidates.map((c) => c.image?.(s)))));
    return this.answer(query, ids, want);
  }
}

/**
 * A plain pino logger at debug level (without the app's serializers: what the service logs, as it
 * logs it); `entries()` parses what it wrote.
 */
export function recordingLogger(): { logger: Logger; entries: () => Array<Record<string, unknown>> } {
  const lines: string[] = [];
  const logger = pino(
    { level: 'debug' },
    {
      write(msg: string) {
        lines.push(msg);
      },
    },
  );
  return { logger, entries: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>) };
}

/**
 * A small, real in-memory {@link SearchService} for conversation and web tests (a test double of our
 * own port, not a mock of a library): seeded word vectors, exact cosine top-k with exclusions, and a
 * genuine JPEG grid made by sharp. Each image carries two tags from {@link TAGS}; a text embedding is
 * the normalised sum of its words' vectors, so "cat" really finds cat images and "without dog"
 * really pushes dog images down.
 */
import { createHash } from 'node:crypto';
import sharp from 'sharp';
import { seededRandom } from '../../scripts/fixture-model/graph-builder.ts';
import { checkImageSize, MAX_QUERY_PIXELS } from '../../src/clip/preprocess.ts';
import { ImageSearchError } from '../../src/core/errors.ts';
import type { Hit, IndexEntry, Pick, SearchQuery, SearchReply, SearchService } from '../../src/core/types.ts';
import type { EngineName, LoadedIndex } from '../../src/index/engines/types.ts';
import { openIndexWriter, openVectorIndex } from '../../src/index/open.ts';
import { encodeQuery } from '../../src/search/query-vector.ts';
import { tempDir } from './fixtures.ts';

export const TAGS = [
  'cat',
  'dog',
  'beach',
  'mountain',
  'city',
  'forest',
  'car',
  'people',
  'snow',
  'flower',
  'night',
  'food',
] as const;

const DIM = 32;

function seedOf(text: string): number {
  return createHash('sha256').update(text).digest().readUInt32LE(0);
}

function randomVector(seed: number): Float32Array {
  const next = seededRandom(seed);
  const v = new Float32Array(DIM);
  for (let i = 0; i < DIM; i++) v[i] = next() * 2 - 1;
  return normalize(v);
}

function normalize(v: Float32Array): Float32Array {
  let s = 0;
  for (const x of v) s += x * x;
  const n = Math.sqrt(s) || 1;
  return v.map((x) => x / n);
}

function addInto(target: Float32Array, v: Float32Array, w = 1): void {
  for (let i = 0; i < target.length; i++) target[i] = (target[i] ?? 0) + (v[i] ?? 0) * w;
}

function wordVector(word: string): Float32Array {
  const stem = word.length > 3 && word.endsWith('s') ? word.slice(0, -1) : word;
  return randomVector(seedOf(`word:${stem}`));
}

const STOP = new Set(['a', 'an', 'the', 'on', 'in', 'of', 'with', 'and', 'at', 'photo', 'only']);

export interface MemorySearchOptions {
  /** Number of images (default 48). */
  size?: number;
  /** Milliseconds each search takes (to test concurrency). */
  delayMs?: number;
  /**
   * Serve the images from a real index of this engine (written to a temp folder), so search,
   * exclusions, entries and vectors go through the VectorIndex port; default: plain arrays.
   */
  engine?: EngineName;
  /** Rewrites each index entry (links, credits) as an index built from odd data would hold it. */
  entry?: (entry: IndexEntry) => IndexEntry;
}

export interface MemorySearchService extends SearchService {
  /** The double's text embedding (seeded word vectors). */
  embedText(text: string): Promise<Float32Array>;
  /** The double's image embedding (seeded by the bytes); unreadable images are `image_invalid`. */
  embedImage(bytes: Buffer): Promise<Float32Array>;
  /** Every query the service was asked, in order. */
  readonly queries: SearchQuery[];
  /** The effective query vector each search ran with (what the pipeline encoded), in order. */
  readonly vectors: Float32Array[];
  /** Tags of an image id. */
  tagsOf(id: string): string[];
}

export function createMemorySearchService(opts: MemorySearchOptions = {}): MemorySearchService {
  const size = opts.size ?? 48;
  const entries = new Map<string, IndexEntry>();
  const vectors = new Map<string, Float32Array>();
  const tags = new Map<string, string[]>();
  for (let i = 0; i < size; i++) {
    const id = `img-${String(i).padStart(3, '0')}`;
    const own = [TAGS[i % TAGS.length] ?? 'cat', TAGS[(i * 5 + 3) % TAGS.length] ?? 'dog'];
    const v = new Float32Array(DIM);
    for (const t of own) addInto(v, wordVector(t));
    addInto(v, randomVector(seedOf(`noise:${id}`)), 0.35);
    vectors.set(id, normalize(v));
    tags.set(id, own);
    const entry: IndexEntry = {
      id,
      description: own.join(' and '),
      credit: { name: `Photographer ${i}`, url: `https://example.test/@p${i}` },
      pageUrl: `https://example.test/photos/${id}`,
    };
    entries.set(id, opts.entry ? opts.entry(entry) : entry);
  }
  const queries: SearchQuery[] = [];
  const searched: Float32Array[] = [];
  const index = opts.engine ? writeAndOpen(opts.engine, entries, vectors) : undefined;
  // A failed build surfaces at the first call that needs the index, not as an unhandled rejection.
  index?.catch(() => undefined);

  const embedText = async (text: string): Promise<Float32Array> => {
    const words = text
      .toLowerCase()
      .split(/[^\p{L}\p{N}]+/u)
      .filter((w) => w && !STOP.has(w));
    const v = new Float32Array(DIM);
    for (const w of words.length > 0 ? words : [text]) addInto(v, wordVector(w));
    return normalize(v);
  };

  const embedImage = async (bytes: Buffer): Promise<Float32Array> => {
    try {
      await sharp(bytes).metadata();
    } catch (cause) {
      throw new ImageSearchError('image_invalid', "I couldn't read that image.", { cause });
    }
    return randomVector(seedOf(bytes.toString('base64')));
  };

  const topK = async (q: Float32Array, k: number, exclude?: ReadonlySet<string>): Promise<Hit[]> => {
    if (index) return (await index).search(q, k, exclude ? { exclude } : {});
    const hits: Hit[] = [];
    for (const [id, v] of vectors) {
      if (exclude?.has(id)) continue;
      let dot = 0;
      for (let i = 0; i < DIM; i++) dot += (q[i] ?? 0) * (v[i] ?? 0);
      const entry = entries.get(id);
      if (entry) hits.push({ id, score: dot, entry });
    }
    return hits.sort((a, b) => b.score - a.score).slice(0, k);
  };

  return {
    modelId: 'memory-test',
    queries,
    vectors: searched,
    tagsOf: (id) => tags.get(id) ?? [],
    embedText,
    embedImage,
    // The real header check, as the pipeline makes it through its embedder.
    checkImage: (bytes) => checkImageSize(bytes, MAX_QUERY_PIXELS),
    getEntry: async (id) => (index ? (await index).getEntry(id) : entries.get(id)),
    getVector: async (id) => (index ? (await index).getVector(id) : vectors.get(id)),
    async getImage(entry, width) {
      return solidJpeg(entry.id, Math.min(width, 96));
    },
    async search(this: MemorySearchService, query, signal): Promise<SearchReply> {
      queries.push(query);
      if (opts.delayMs) await new Promise((r) => setTimeout(r, opts.delayMs));
      signal?.throwIfAborted();
      const started = performance.now();
      // The same arithmetic as the real pipeline, over this double's encoders.
      // Through `this`, so a test that wraps embedText sees what a search encodes.
      const { vector, imageVector } = await encodeQuery(query, {
        text: (t) => this.embedText(t),
        image: (b) => this.embedImage(b),
      });
      searched.push(vector);
      const hits = await topK(vector, query.candidates ?? 10, query.exclude);
      const picks: Pick[] = hits.slice(0, query.want ?? 4).map((h, i) => ({ ...h, n: i + 1 }));
      const grid = picks.length > 0 ? await gridJpeg(picks.map((p) => p.id)) : Buffer.alloc(0);
      const credits = picks.map((p) => `${p.n}: ${p.entry.credit?.name ?? 'unknown'}`).join(' · ');
      return {
        query: query.text,
        picks,
        grid,
        mime: 'image/jpeg',
        fileName: 'imagesearch-test.jpg',
        caption: `“${query.text}” — ${credits}`,
        rankedBy: 'clip',
        timingsMs: { total: performance.now() - started },
        vector,
        ...(imageVector ? { imageVector } : {}),
      };
    },
  };
}

async function writeAndOpen(
  engine: EngineName,
  entries: Map<string, IndexEntry>,
  vectors: Map<string, Float32Array>,
): Promise<LoadedIndex> {
  const dir = tempDir('imagesearch-memory-index-');
  const writer = await openIndexWriter(dir, { engine, modelId: 'memory-test', dim: DIM });
  const matrix = new Float32Array(vectors.size * DIM);
  [...vectors.values()].forEach((v, i) => {
    matrix.set(v, i * DIM);
  });
  await writer.append([...entries.values()], matrix);
  await writer.commit({});
  return openVectorIndex(dir, { expect: { modelId: 'memory-test', dim: DIM } });
}

function colorOf(id: string): { r: number; g: number; b: number } {
  const h = createHash('md5').update(id).digest();
  return { r: h[0] ?? 0, g: h[1] ?? 0, b: h[2] ?? 0 };
}

function solidJpeg(id: string, size: number): Promise<Buffer> {
  return sharp({ create: { width: size, height: size, channels: 3, background: colorOf(id) } })
    .jpeg()
    .toBuffer();
}

async function gridJpeg(ids: string[]): Promise<Buffer> {
  const tile = 96;
  const tiles = await Promise.all(
    ids.map((id) =>
      sharp({ create: { width: tile, height: tile, channels: 3, background: colorOf(id) } })
        .png()
        .toBuffer(),
    ),
  );
  return sharp({ create: { width: tile * 2, height: tile * 2, channels: 3, background: '#ffffff' } })
    .composite(tiles.map((input, i) => ({ input, left: (i % 2) * tile, top: Math.floor(i / 2) * tile })))
    .jpeg({ quality: 80 })
    .toBuffer();
}

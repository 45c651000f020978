import { open, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { ImageSearchError } from '../core/errors.ts';
import type { Hit, IndexEntry, SearchOptions } from '../core/types.ts';
import { FlatSearcher } from '../vector/flat-search.ts';
import { type LoadedIndex, ManifestBackedIndex } from './engines/types.ts';
import {
  entrySchema,
  type IndexManifest,
  invalid,
  readManifest,
  type StoredEntry,
  sha256,
  withCreditSource,
} from './format.ts';

export interface LoadIndexOptions {
  /** The loaded model: an index made with another model or dimension is refused. */
  expect?: { modelId: string; dim: number };
  /** Verify the vectors' SHA-256 (default true; ~0.1 s per 25K rows). */
  verify?: boolean;
  threads?: number;
}

/** Exact flat cosine index held in memory (one Float32Array), searched by {@link FlatSearcher}. */
export class FlatVectorIndex extends ManifestBackedIndex<IndexManifest> implements LoadedIndex {
  readonly engine = 'flat' as const;
  private readonly byId = new Map<string, number>();

  private constructor(
    readonly dir: string,
    manifest: IndexManifest,
    readonly vectors: Float32Array,
    readonly entries: StoredEntry[],
    private readonly searcher: FlatSearcher | undefined,
  ) {
    super(manifest);
    for (const [i, e] of entries.entries()) this.byId.set(e.id, i);
  }

  override get size(): number {
    return this.entries.length;
  }
  get location(): string {
    return this.dir;
  }

  /**
   * Loads the folder's fp32 vectors whatever its engine (an int8 index keeps them too): the flat
   * reader is also how builds and tools read any local index.
   */
  static async load(dir: string, opts: LoadIndexOptions = {}): Promise<FlatVectorIndex> {
    const root = path.resolve(dir);
    const manifest = await readManifest(root);
    checkModel(root, manifest, opts.expect);
    const vectorsPath = path.join(root, manifest.vectorsFile);
    const expectedBytes = manifest.count * manifest.dim * 4;
    let size: number;
    try {
      size = (await stat(vectorsPath)).size;
    } catch {
      throw invalid(root, `${manifest.vectorsFile} is missing`);
    }
    if (size !== expectedBytes)
      throw invalid(root, `${manifest.vectorsFile} has ${size} bytes, expected ${expectedBytes}`);
    const vectors = new Float32Array(manifest.count * manifest.dim);
    const fh = await open(vectorsPath, 'r');
    try {
      await fh.read(new Uint8Array(vectors.buffer), 0, expectedBytes, 0);
    } finally {
      await fh.close();
    }
    if ((opts.verify ?? true) && sha256(new Uint8Array(vectors.buffer)) !== manifest.vectorsSha256) {
      throw invalid(root, `${manifest.vectorsFile} does not match its checksum`);
    }
    for (let i = 0; i < Math.min(vectors.length, 4096); i++) {
      if (!Number.isFinite(vectors[i])) throw invalid(root, 'vectors contain NaN or infinity');
    }
    const entries = await readEntries(root, manifest);
    const searcher =
      manifest.count > 0
        ? await FlatSearcher.create(vectors, manifest.count, manifest.dim, opts.threads)
        : undefined;
    return new FlatVectorIndex(root, manifest, vectors, entries, searcher);
  }

  async search(query: Float32Array, k: number, opts: SearchOptions = {}): Promise<Hit[]> {
    if (query.length !== this.dim) {
      throw new ImageSearchError(
        'internal',
        `Query has ${query.length} dimensions; the index has ${this.dim}.`,
      );
    }
    if (!this.searcher || k <= 0) return [];
    const exclude = opts.exclude;
    const extra = exclude ? Math.min(exclude.size, this.size) : 0;
    const { indices, scores } = await this.searcher.topK(query, k + extra);
    const hits: Hit[] = [];
    for (let i = 0; i < indices.length && hits.length < k; i++) {
      const entry = this.entries[indices[i]!]!;
      if (exclude?.has(entry.id)) continue;
      const hit: Hit = { id: entry.id, score: scores[i]!, entry: toIndexEntry(entry) };
      if (opts.withVectors)
        hit.vector = this.vectors.subarray(indices[i]! * this.dim, (indices[i]! + 1) * this.dim);
      hits.push(hit);
    }
    return hits;
  }

  async getEntry(id: string): Promise<IndexEntry | undefined> {
    const i = this.byId.get(id);
    return i === undefined ? undefined : toIndexEntry(this.entries[i]!);
  }

  async getVector(id: string): Promise<Float32Array | undefined> {
    const i = this.byId.get(id);
    return i === undefined ? undefined : this.vectors.slice(i * this.dim, (i + 1) * this.dim);
  }

  /** Row number of an id (for callers that batch over rows). */
  rowOf(id: string): number | undefined {
    return this.byId.get(id);
  }

  async close(): Promise<void> {
    await this.searcher?.release();
  }
}

/** Refuses an index made with another model or dimension (every engine says it the same way). */
export function checkModel(
  where: string,
  index: { modelId: string; dim: number },
  expect: { modelId: string; dim: number } | undefined,
): void {
  if (!expect || (expect.modelId === index.modelId && expect.dim === index.dim)) return;
  throw new ImageSearchError(
    'index_model_mismatch',
    `The index in ${where} was built with model "${index.modelId}" (${index.dim}-d), but the loaded model is "${expect.modelId}" (${expect.dim}-d). Rebuild the index with this model (\`npx imagesearch index …\`) or point IMAGESEARCH_MODEL_DIR / IMAGESEARCH_INDEX_DIR at a matching pair.`,
  );
}

/**
 * The entry as the pipeline sees it, whichever engine read it: the credit's source named, `path` as
 * stored, relative to the photo folder. The image store resolves it against `imagesRoot` and refuses
 * what leaves it (made absolute here, no path would ever look like it leaves the folder, and the
 * store's guard could never fire).
 */
export function toIndexEntry(e: StoredEntry): IndexEntry {
  const { fingerprint: _f, ...entry } = withCreditSource(e);
  return entry as IndexEntry;
}

async function readEntries(root: string, manifest: IndexManifest): Promise<StoredEntry[]> {
  let text: string;
  try {
    text = await readFile(path.join(root, manifest.entriesFile), 'utf8');
  } catch {
    throw invalid(root, `${manifest.entriesFile} is missing`);
  }
  const lines = text.split('\n').filter((l) => l.length > 0);
  if (lines.length !== manifest.count) {
    throw invalid(root, `${manifest.entriesFile} has ${lines.length} entries, expected ${manifest.count}`);
  }
  return lines.map((line, i) => {
    let json: unknown;
    try {
      json = JSON.parse(line);
    } catch {
      throw invalid(root, `entry ${i + 1} is not valid JSON`);
    }
    const parsed = entrySchema.safeParse(json);
    if (!parsed.success) throw invalid(root, `entry ${i + 1} is malformed`);
    return parsed.data;
  });
}

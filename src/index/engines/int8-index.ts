import { createHash } from 'node:crypto';
import { readSync } from 'node:fs';
import { type FileHandle, open, stat } from 'node:fs/promises';
import path from 'node:path';
import { ImageSearchError } from '../../core/errors.ts';
import type { Hit, IndexEntry, SearchOptions } from '../../core/types.ts';
import { dot } from '../../vector/math.ts';
import { type IndexManifest, invalid } from '../format.ts';
import { toIndexEntry } from '../vector-index.ts';
import { EntryStore, hashId } from './entry-store.ts';
import { int8TopK, quantizeQuery } from './int8-kernel.ts';
import { type LoadedIndex, ManifestBackedIndex } from './types.ts';

export interface Int8LoadOptions {
  /** Verify the codes' SHA-256 while reading them (default true; ~1 s per million 512-d rows). */
  verify?: boolean;
  /** Threads for the scan (0: usearch decides). */
  threads?: number;
  /** Rows re-scored exactly per query, before exclusions (default 100). */
  rescore?: number;
  /**
   * Bytes of codes per in-memory block (default 512 MB, i.e. ~1M 512-d rows; each block is read
   * with one read() call, so keep it under 2 GB). Tests set a few KB so the multi-block read and the
   * merge of per-block shortlists run on small indexes.
   */
  blockBytes?: number;
}

/** Rows per in-memory block of codes: 512 MB, far below the largest typed array Node allows. */
const BLOCK_BYTES = 1 << 29;

export const INT8_DEFAULTS = { rescore: 100 } as const;

/**
 * The compressed exact engine: the scan runs over int8 codes held in memory (a quarter of the fp32
 * bytes), then a shortlist is re-scored exactly against the fp32 rows read from disk. The shortlist
 * is large enough that quantisation error never reaches the top k (recall@10 against fp32 exact is
 * measured by `npm run bench`), and the scores returned are the exact fp32 cosines, so the junk
 * floor and the refinement arithmetic see the same numbers as with the flat engine.
 */
export class Int8VectorIndex extends ManifestBackedIndex<IndexManifest> implements LoadedIndex {
  readonly engine = 'int8' as const;

  private constructor(
    readonly location: string,
    manifest: IndexManifest,
    private readonly blocks: { first: number; codes: Int8Array }[],
    private readonly scales: Float32Array,
    private readonly entries: EntryStore,
    private readonly vectors: FileHandle,
    private readonly opts: { threads: number; rescore: number },
  ) {
    super(manifest);
  }

  /** Loads the int8 index in `dir` whose manifest was already read and checked against the model. */
  static async load(
    dir: string,
    manifest: IndexManifest,
    opts: Int8LoadOptions = {},
  ): Promise<Int8VectorIndex> {
    const int8 = manifest.int8;
    if (!int8) throw invalid(dir, 'index.json has no int8 section');
    const { count, dim } = manifest;
    const expectSize = async (file: string, bytes: number) => {
      let size: number;
      try {
        size = (await stat(path.join(dir, file))).size;
      } catch {
        throw invalid(dir, `${file} is missing`);
      }
      if (size !== bytes) throw invalid(dir, `${file} has ${size} bytes, expected ${bytes}`);
    };
    await expectSize(manifest.vectorsFile, count * dim * 4);
    await expectSize(int8.codesFile, count * dim);

    const verify = opts.verify ?? true;
    // Stryker disable next-line MethodExpression,ArithmeticOperator: block sizing changes how many rows are re-scored exactly, never which win
    const rowsPerBlock = Math.max(1, Math.floor((opts.blockBytes ?? BLOCK_BYTES) / dim));
    const blocks: { first: number; codes: Int8Array }[] = [];
    const hash = createHash('sha256');
    const fh = await open(path.join(dir, int8.codesFile), 'r');
    try {
      // Stryker disable next-line EqualityOperator: one more, empty block adds nothing to any shortlist
      for (let first = 0; first < count; first += rowsPerBlock) {
        const n = Math.min(rowsPerBlock, count - first);
        const codes = new Int8Array(n * dim);
        const bytes = new Uint8Array(codes.buffer);
        // One read per block: a block (512 MB) is below the ~2 GB one read() call can move.
        await fh.read(bytes, 0, bytes.length, first * dim);
        // Stryker disable next-line ConditionalExpression: hashing without comparing only costs time
        if (verify) hash.update(bytes);
        blocks.push({ first, codes });
      }
    } finally {
      await fh.close();
    }
    if (verify && hash.digest('hex') !== int8.codesSha256)
      throw invalid(dir, `${int8.codesFile} does not match its checksum`);
    const entries = await EntryStore.open(path.join(dir, manifest.entriesFile), count, (why) =>
      invalid(dir, `${manifest.entriesFile}: ${why}`),
    );
    const vectors = await open(path.join(dir, manifest.vectorsFile), 'r');
    return new Int8VectorIndex(dir, manifest, blocks, Float32Array.from(int8.scales), entries, vectors, {
      threads: opts.threads ?? 0,
      rescore: Math.max(1, opts.rescore ?? INT8_DEFAULTS.rescore),
    });
  }

  async search(query: Float32Array, k: number, opts: SearchOptions = {}): Promise<Hit[]> {
    if (query.length !== this.dim) {
      throw new ImageSearchError(
        'internal',
        `Query has ${query.length} dimensions; the index has ${this.dim}.`,
      );
    }
    // (An empty index has no blocks: its shortlist is empty.)
    if (k < 1) return [];
    const exclude = opts.exclude;
    // Excluded rows may sit in the shortlist: fetch that many more so k survive.
    const want = Math.min(this.size, Math.max(this.opts.rescore, k) + (exclude?.size ?? 0));
    const codes = quantizeQuery(query, this.scales);
    let shortlist: { row: number; d: number }[] = [];
    for (const block of this.blocks) {
      const { rows, distances } = int8TopK(block.codes, codes, this.dim, want, this.opts.threads);
      for (let i = 0; i < rows.length; i++) shortlist.push({ row: block.first + rows[i]!, d: distances[i]! });
    }
    // The best `want` over all blocks (one block's list is already in order; sorting ~100 rows is nothing).
    // Stryker disable next-line MethodExpression: re-scoring more rows than `want` changes no winner (each is re-scored from fp32 and sorted)
    shortlist = shortlist.sort((a, b) => a.d - b.d).slice(0, want);

    const excludedHashes = exclude?.size ? new Set([...exclude].map(hashId)) : undefined;
    // Re-score from the fp32 file with synchronous preads: ~100 page-cached 2 KB reads take well
    // under a millisecond, where as many thread-pool round trips cost several.
    const row = new Float32Array(this.dim);
    const rowBytes = new Uint8Array(row.buffer);
    const scored: ({ row: number; score: number } | undefined)[] = [];
    for (const c of shortlist) {
      // Stryker disable next-line ConditionalExpression: the hash pre-filter only saves entry reads
      if (excludedHashes?.has(this.entries.hashOfRow(c.row))) {
        const entry = await this.entries.get(c.row);
        // Stryker disable next-line ConditionalExpression: reached only for an excluded hash; differs only when it collides with another row's
        if (exclude?.has(entry.id)) continue;
      }
      readSync(this.vectors.fd, rowBytes, 0, rowBytes.length, c.row * this.dim * 4);
      scored.push({ row: c.row, score: dot(row, query) });
    }
    const best = scored
      .filter((s) => s !== undefined)
      .sort((a, b) => b.score - a.score || a.row - b.row)
      .slice(0, k);
    return Promise.all(
      best.map(async ({ row, score }) => {
        const entry = await this.entries.get(row);
        return { id: entry.id, score, entry: toIndexEntry(entry) };
      }),
    );
  }

  async getEntry(id: string): Promise<IndexEntry | undefined> {
    const row = await this.entries.rowOf(id);
    return row === undefined ? undefined : toIndexEntry(await this.entries.get(row));
  }

  async getVector(id: string): Promise<Float32Array | undefined> {
    const row = await this.entries.rowOf(id);
    return row === undefined ? undefined : this.readVector(row);
  }

  private async readVector(row: number): Promise<Float32Array> {
    const out = new Float32Array(this.dim);
    await this.vectors.read(new Uint8Array(out.buffer), 0, this.dim * 4, row * this.dim * 4);
    return out;
  }

  async close(): Promise<void> {
    await this.entries.close();
    await this.vectors.close();
  }
}

import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { mkdir, open, readdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from '../../util/fs-atomic.ts';
import { l2normalize } from '../../vector/math.ts';
import {
  type FileEngine,
  INDEX_FILE,
  INDEX_FORMAT,
  INDEX_VERSION,
  type IndexManifest,
  readManifest,
  type StoredEntry,
} from '../format.ts';
import { RowLog } from '../row-log.ts';
import { accumulateMaxAbs, quantizeRows, scalesFromMaxAbs } from './int8-kernel.ts';
import type { CommitInfo, IndexWriter } from './types.ts';

export interface LocalWriterOptions {
  engine: FileEngine;
  modelId: string;
  dim: number;
  /**
   * Staged rows of an interrupted write with the same key are kept and appended to (import-npy
   * passes a key derived from its inputs); without one every write starts afresh.
   */
  resumeKey?: string;
}

/** Rows per chunk when the committed vectors are re-read for int8 codes (≈ 32 MB at 512-d). */
const CHUNK_ROWS = 16384;

/**
 * Writes a flat or int8 index folder (format in ../format.ts) from streamed rows. Rows are staged in
 * `<dir>/.staging-<key>/` (a {@link RowLog}); commit turns the staged files into the content-hashed
 * data files by rename, derives the int8 codes in two streamed passes, then writes index.json by
 * atomic rename (the commit point) and removes what earlier versions left. Memory stays at one chunk.
 */
export class LocalIndexWriter implements IndexWriter {
  private constructor(
    readonly dir: string,
    private readonly opts: LocalWriterOptions,
    private readonly staging: RowLog,
    readonly resumedRows: number,
  ) {}

  get engine(): FileEngine {
    return this.opts.engine;
  }

  static async open(dir: string, opts: LocalWriterOptions): Promise<LocalIndexWriter> {
    await mkdir(dir, { recursive: true });
    const key = opts.resumeKey ?? 'write';
    // One write at a time per folder: what another (abandoned) write staged is of no further use.
    for (const name of await readdir(dir))
      if (name.startsWith('.staging-') && name !== `.staging-${key}`)
        await rm(path.join(dir, name), {
          recursive: true,
          // Stryker disable next-line BooleanLiteral: only a folder removed by someone else since readdir tells it apart
          force: true,
        });
    const staging = await RowLog.open(path.join(dir, `.staging-${key}`), opts.dim, {
      fresh: opts.resumeKey === undefined,
    });
    return new LocalIndexWriter(dir, opts, staging, staging.count);
  }

  async append(entries: readonly StoredEntry[], vectors: Float32Array): Promise<void> {
    const dim = this.opts.dim;
    for (let r = 0; r < entries.length; r++) l2normalize(vectors.subarray(r * dim, (r + 1) * dim));
    await this.staging.append(entries, vectors);
  }

  async commit(info: CommitInfo): Promise<IndexManifest> {
    const { dir } = this;
    const { dim, engine, modelId } = this.opts;
    const count = this.staging.count;
    const vectorsSha256 = await sha256OfFile(this.staging.vectorsFile);
    const entriesHash = (await sha256OfFile(this.staging.entriesFile)).slice(0, 12);
    const vectorsFile = `vectors-${vectorsSha256.slice(0, 12)}.f32`;
    const entriesFile = `entries-${entriesHash}.jsonl`;
    let int8: IndexManifest['int8'];
    if (engine === 'int8') int8 = await writeCodes(dir, this.staging.vectorsFile, dim, count);
    // Same filesystem: a rename, not a copy. Content-hashed names never collide with live files
    // unless the content is identical.
    await rename(this.staging.vectorsFile, path.join(dir, vectorsFile));
    await rename(this.staging.entriesFile, path.join(dir, entriesFile));

    let createdAt = new Date().toISOString();
    try {
      createdAt = (await readManifest(dir)).createdAt;
    } catch {
      // first version of this index
    }
    const manifest: IndexManifest = {
      format: INDEX_FORMAT,
      version: INDEX_VERSION,
      modelId,
      dim,
      count,
      dtype: 'float32',
      vectorsFile,
      entriesFile,
      vectorsSha256,
      engine,
      hosts: [...new Set(info.hosts ?? [])].sort(),
      createdAt,
      updatedAt: new Date().toISOString(),
    };
    if (int8) manifest.int8 = int8;
    if (info.imagesRoot) manifest.imagesRoot = info.imagesRoot;
    if (info.allowAbsolutePaths) manifest.allowAbsolutePaths = true;
    if (info.source) manifest.source = info.source;
    await writeFileAtomic(path.join(dir, INDEX_FILE), `${JSON.stringify(manifest, null, 2)}\n`);
    await this.staging.remove();
    await removeStale(dir, new Set([vectorsFile, entriesFile, int8?.codesFile]));
    return manifest;
  }

  async discard(): Promise<void> {
    await this.staging.remove();
  }
}

/** Per-dimension scales (pass 1), then codes (pass 2), streamed from the staged fp32 vectors. */
async function writeCodes(
  dir: string,
  vectorsPath: string,
  dim: number,
  count: number,
): Promise<NonNullable<IndexManifest['int8']>> {
  const maxAbs = new Float32Array(dim);
  for await (const rows of streamRows(vectorsPath, dim, count)) accumulateMaxAbs(maxAbs, rows);
  const scales = scalesFromMaxAbs(maxAbs);
  const tmp = path.join(dir, `codes.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
  const hash = createHash('sha256');
  const fh = await open(tmp, 'w');
  try {
    for await (const rows of streamRows(vectorsPath, dim, count)) {
      const codes = quantizeRows(rows, scales, new Int8Array(rows.length));
      const bytes = new Uint8Array(codes.buffer);
      hash.update(bytes);
      await fh.write(bytes);
    }
    await fh.sync();
  } finally {
    await fh.close();
  }
  const codesSha256 = hash.digest('hex');
  const codesFile = `codes-${codesSha256.slice(0, 12)}.i8`;
  await rename(tmp, path.join(dir, codesFile));
  return { codesFile, codesSha256, scales: Array.from(scales) };
}

/** Row-major float32 rows of a vectors file, CHUNK_ROWS at a time. */
async function* streamRows(file: string, dim: number, count: number): AsyncGenerator<Float32Array> {
  const fh = await open(file, 'r');
  try {
    // Stryker disable next-line EqualityOperator: a pass at first === count reads and yields zero rows, which add nothing
    for (let first = 0; first < count; first += CHUNK_ROWS) {
      const n = Math.min(CHUNK_ROWS, count - first);
      const out = new Float32Array(n * dim);
      const bytes = new Uint8Array(out.buffer);
      const { bytesRead } = await fh.read(bytes, 0, bytes.length, first * dim * 4);
      if (bytesRead !== bytes.length) throw new Error(`${file} is shorter than ${count} rows`);
      yield out;
    }
  } finally {
    await fh.close();
  }
}

async function sha256OfFile(file: string): Promise<string> {
  const hash = createHash('sha256');
  // Stryker disable next-line ObjectLiteral: the read size only; the same bytes are hashed
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Data files of earlier versions, interrupted temp files, and a LanceDB dataset this folder replaced. */
async function removeStale(dir: string, keep: ReadonlySet<string | undefined>): Promise<void> {
  for (const name of await readdir(dir)) {
    const data = /^(vectors-[0-9a-f]+\.f32|entries-[0-9a-f]+\.jsonl|codes-[0-9a-f]+\.i8)$/.test(name);
    const lance = /^imagesearch(-\w+)?\.lance$/.test(name) && existsSync(path.join(dir, name, '_versions'));
    if ((data && !keep.has(name)) || name.includes('.tmp-') || lance)
      await rm(path.join(dir, name), {
        recursive: true,
        // Stryker disable next-line BooleanLiteral: only a file removed by someone else since readdir tells it apart
        force: true,
      });
  }
}

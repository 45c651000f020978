import { createReadStream, existsSync } from 'node:fs';
import { appendFile, type FileHandle, mkdir, open, rm, stat, truncate } from 'node:fs/promises';
import path from 'node:path';
import { entrySchema, type StoredEntry } from './format.ts';

/** Rows per batch when a log is read back (≈ 8 MB of 512-d vectors). */
export const READ_BATCH = 4096;

/**
 * An append-only log of index rows on local disk: `entries.jsonl` (one entry per line) beside
 * `vectors.f32` (row-major float32). Used for the build checkpoint and for staging a streamed import,
 * so that a killed run resumes where it stopped and memory never holds more than one batch.
 *
 * Vectors are appended before entries; reopening trims both files to the rows they agree on, so a
 * write torn by a kill is dropped rather than misaligning everything after it.
 */
export class RowLog {
  private constructor(
    readonly dir: string,
    readonly dim: number,
    private rows: number,
  ) {}

  get entriesFile(): string {
    return path.join(this.dir, 'entries.jsonl');
  }
  get vectorsFile(): string {
    return path.join(this.dir, 'vectors.f32');
  }
  /** Rows in the log. */
  get count(): number {
    return this.rows;
  }

  /** Opens (or creates) the log in `dir`; `fresh` discards what an earlier run left there. */
  static async open(dir: string, dim: number, opts: { fresh?: boolean } = {}): Promise<RowLog> {
    await mkdir(dir, { recursive: true });
    const log = new RowLog(dir, dim, 0);
    if (opts.fresh || !existsSync(log.entriesFile) || !existsSync(log.vectorsFile)) {
      await rm(log.entriesFile, { force: true });
      await rm(log.vectorsFile, { force: true });
      await appendFile(log.entriesFile, '');
      await appendFile(log.vectorsFile, new Uint8Array(0));
      return log;
    }
    const rowBytes = dim * 4;
    const vectorRows = Math.floor((await stat(log.vectorsFile)).size / rowBytes);
    // Count complete, valid entry lines, up to the rows whose vectors made it to disk.
    let lines = 0;
    let validBytes = 0;
    let offset = 0;
    let carry = '';
    outer: for await (const chunk of createReadStream(log.entriesFile, { encoding: 'utf8' })) {
      const text = carry + (chunk as string);
      let start = 0;
      for (;;) {
        const nl = text.indexOf('\n', start);
        if (nl < 0) break;
        if (lines >= vectorRows || !validEntryLine(text.slice(start, nl))) break outer;
        offset += Buffer.byteLength(text.slice(start, nl + 1));
        validBytes = offset;
        lines++;
        start = nl + 1;
      }
      carry = text.slice(start);
    }
    await truncate(log.entriesFile, validBytes);
    await truncate(log.vectorsFile, lines * rowBytes);
    log.rows = lines;
    return log;
  }

  /** Appends rows: `vectors` holds entries.length × dim values. */
  async append(entries: readonly StoredEntry[], vectors: Float32Array): Promise<void> {
    if (entries.length === 0) return;
    if (vectors.length !== entries.length * this.dim)
      throw new Error(
        `RowLog.append: ${vectors.length} values for ${entries.length} rows of dim ${this.dim}`,
      );
    await appendFile(
      this.vectorsFile,
      new Uint8Array(vectors.buffer, vectors.byteOffset, vectors.byteLength),
    );
    await appendFile(this.entriesFile, entries.map((e) => `${JSON.stringify(e)}\n`).join(''));
    this.rows += entries.length;
  }

  /** Streams the log back in batches of at most `batch` rows. */
  async *read(batch = READ_BATCH): AsyncGenerator<{ entries: StoredEntry[]; vectors: Float32Array }> {
    yield* readRows(this.entriesFile, this.vectorsFile, this.dim, this.rows, batch);
  }

  async remove(): Promise<void> {
    await rm(this.dir, { recursive: true, force: true });
  }
}

function validEntryLine(line: string): boolean {
  try {
    return entrySchema.safeParse(JSON.parse(line)).success;
  } catch {
    return false;
  }
}

/**
 * Streams `count` rows from an entries.jsonl + row-major float32 pair (an index's own files or a
 * row log), in batches, with O(batch) memory.
 */
export async function* readRows(
  entriesFile: string,
  vectorsFile: string,
  dim: number,
  count: number,
  batch = READ_BATCH,
): AsyncGenerator<{ entries: StoredEntry[]; vectors: Float32Array }> {
  if (count === 0) return;
  const fh = await open(vectorsFile, 'r');
  try {
    let row = 0;
    let pending: StoredEntry[] = [];
    for await (const line of readLines(entriesFile)) {
      if (row + pending.length >= count) break;
      pending.push(entrySchema.parse(JSON.parse(line)));
      if (pending.length === batch) {
        yield { entries: pending, vectors: await readVectorRows(fh, dim, row, pending.length) };
        row += pending.length;
        pending = [];
      }
    }
    if (pending.length > 0)
      yield { entries: pending, vectors: await readVectorRows(fh, dim, row, pending.length) };
  } finally {
    await fh.close();
  }
}

/** `n` float32 rows starting at row `first`. */
export async function readVectorRows(
  fh: FileHandle,
  dim: number,
  first: number,
  n: number,
): Promise<Float32Array> {
  const out = new Float32Array(n * dim);
  const bytes = new Uint8Array(out.buffer);
  const { bytesRead } = await fh.read(bytes, 0, bytes.length, first * dim * 4);
  if (bytesRead !== bytes.length)
    throw new Error(`vectors file ended at row ${first + Math.floor(bytesRead / dim / 4)}`);
  return out;
}

/** Non-empty lines of a UTF-8 text file, streamed. */
export async function* readLines(file: string): AsyncGenerator<string> {
  let carry = '';
  for await (const chunk of createReadStream(file, { encoding: 'utf8', highWaterMark: 1 << 20 })) {
    const text = carry + (chunk as string);
    let start = 0;
    for (;;) {
      const nl = text.indexOf('\n', start);
      if (nl < 0) break;
      if (nl > start) yield text.slice(start, nl);
      start = nl + 1;
    }
    carry = text.slice(start);
  }
  if (carry.length > 0) yield carry;
}

import { createReadStream } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';
import { entrySchema, type StoredEntry } from '../format.ts';

/**
 * An index's entries.jsonl kept on disk. What stays in memory is a byte offset and a 32-bit id hash
 * per row plus the hashes sorted for lookup (~20 MB per million rows) instead of a million entry
 * objects (hundreds of MB). An entry is read and validated when a result needs it; an id is found by
 * binary search over the hashes and confirmed against the entry itself, so a hash collision costs a
 * read, never a wrong row.
 */
export class EntryStore {
  private constructor(
    private readonly fh: FileHandle,
    /** offsets[i]..offsets[i+1] is row i's line (newline excluded). */
    private readonly offsets: Float64Array,
    /** Each row's id hash. */
    private readonly hashes: Uint32Array,
    /** Row numbers sorted by id hash, and the sorted hashes. */
    private readonly order: Uint32Array,
    private readonly sortedHashes: Uint32Array,
    readonly count: number,
  ) {}

  /** Scans the file once; `onBadLine` names a line that is not an entry (the index is damaged). */
  static async open(file: string, expectedCount: number, onBad: (why: string) => Error): Promise<EntryStore> {
    const offsets = new Float64Array(expectedCount + 1);
    const hashes = new Uint32Array(expectedCount);
    let row = 0;
    let pos = 0;
    let carry = Buffer.alloc(0);
    // Stryker disable next-line ObjectLiteral: the read size only; lines are carried across any chunk boundary
    for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 })) {
      const buf = carry.length ? Buffer.concat([carry, chunk as Buffer]) : (chunk as Buffer);
      let start = 0;
      for (;;) {
        const nl = buf.indexOf(10, start);
        if (nl < 0) break;
        if (nl > start) {
          if (row >= expectedCount) throw onBad(`it has more than ${expectedCount} entries`);
          const id = idOfLine(buf.toString('utf8', start, nl));
          if (id === undefined) throw onBad(`entry ${row + 1} is malformed`);
          offsets[row] = pos + start;
          hashes[row] = hashId(id);
          row++;
          offsets[row] = pos + nl;
        }
        start = nl + 1;
      }
      pos += start;
      carry = Buffer.from(buf.subarray(start));
    }
    if (carry.length > 0) throw onBad('the entries file ends in the middle of a line');
    if (row !== expectedCount) throw onBad(`it has ${row} entries, expected ${expectedCount}`);
    const order = Uint32Array.from({ length: row }, (_, i) => i).sort((a, b) => hashes[a]! - hashes[b]!);
    const sortedHashes = Uint32Array.from(order, (i) => hashes[i]!);
    return new EntryStore(await open(file, 'r'), offsets, hashes, order, sortedHashes, row);
  }

  /** Row `i`'s entry (validated). */
  async get(i: number): Promise<StoredEntry> {
    const start = this.offsets[i]!;
    const len = this.offsets[i + 1]! - start;
    const buf = Buffer.alloc(len);
    await this.fh.read(buf, 0, len, start);
    return entrySchema.parse(JSON.parse(buf.toString('utf8')));
  }

  /** The row holding `id`, if any. */
  async rowOf(id: string): Promise<number | undefined> {
    const h = hashId(id);
    let lo = 0;
    let hi = this.sortedHashes.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.sortedHashes[mid]! < h) lo = mid + 1;
      else hi = mid;
    }
    // Past the end the element is undefined, never equal to a hash.
    for (let j = lo; this.sortedHashes[j] === h; j++) {
      const row = this.order[j]!;
      if ((await this.get(row)).id === id) return row;
    }
    return undefined;
  }

  /** The 32-bit hash of row `i`'s id (see {@link hashId}). */
  hashOfRow(i: number): number {
    return this.hashes[i]!;
  }

  async close(): Promise<void> {
    await this.fh.close();
  }
}

/**
 * The id of one entries.jsonl line. Lines are written with `id` first, so a regex finds it without
 * parsing the whole line (a million JSON.parse calls would add seconds to every start).
 */
function idOfLine(line: string): string | undefined {
  try {
    const m = /^\{"id":"((?:[^"\\]|\\.)+)"/.exec(line);
    if (m) {
      const raw = m[1]!;
      return raw.includes('\\') ? (JSON.parse(`"${raw}"`) as string) : raw;
    }
    const { id } = JSON.parse(line) as { id?: unknown };
    if (typeof id === 'string' && id.length > 0) return id;
  } catch {
    // not JSON (or a bad escape in the id): malformed
  }
  return undefined;
}

/** FNV-1a over UTF-16 code units: cheap, and collisions are resolved by reading the entry. */
export function hashId(id: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) {
    h ^= id.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/**
 * Reading a published index back row by row, whatever its engine: what an incremental rebuild
 * reuses (unchanged rows keep their vectors) and what an engine change converts. Streams in batches;
 * never holds the matrix.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import type * as lancedb from '@lancedb/lancedb';
import { connectLance, readControl, storeError } from './engines/lance-connect.ts';
import { META_COLUMNS, rowToEntry } from './engines/lance-format.ts';
import type { EngineName } from './engines/types.ts';
import { entrySchema, INDEX_FILE, readManifest, type StoredEntry } from './format.ts';
import { parseIndexLocation } from './location.ts';
import { READ_BATCH, readLines, readRows } from './row-log.ts';

export interface PublishedRows {
  entries: StoredEntry[];
  vectors: Float32Array;
}

export interface PublishedIndex {
  engine: EngineName;
  modelId: string;
  dim: number;
  count: number;
  /** Every row, entry and vector, in batches. */
  rows(): AsyncIterable<PublishedRows>;
  /** Every entry (no vectors: cheap), in batches. */
  entries(): AsyncIterable<StoredEntry[]>;
}

/** The index published at `rawLocation`, or undefined when there is none. Errors say what is wrong. */
export async function readPublished(
  rawLocation: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<PublishedIndex | undefined> {
  const location = parseIndexLocation(rawLocation);
  if (location.kind === 'local' && existsSync(path.join(location.dir, INDEX_FILE))) {
    const dir = location.dir;
    const m = await readManifest(dir);
    const entriesFile = path.join(dir, m.entriesFile);
    const vectorsFile = path.join(dir, m.vectorsFile);
    return {
      engine: m.engine,
      modelId: m.modelId,
      dim: m.dim,
      count: m.count,
      rows: () => readRows(entriesFile, vectorsFile, m.dim, m.count),
      async *entries() {
        let batch: StoredEntry[] = [];
        for await (const line of readLines(entriesFile)) {
          batch.push(entrySchema.parse(JSON.parse(line)));
          if (batch.length === READ_BATCH) {
            yield batch;
            batch = [];
          }
        }
        if (batch.length) yield batch;
      },
    };
  }
  if (location.kind === 'local' && !existsSync(path.join(location.dir, 'imagesearch.lance')))
    return undefined;
  const lance = await connectLance(location, env);
  const control = await readControl(lance);
  const m = control?.published;
  if (!m) {
    lance.db.close();
    return undefined;
  }
  const scan = async function* (columns: string[]): AsyncGenerator<Record<string, unknown>[]> {
    let table: lancedb.Table;
    try {
      table = await lance.db.openTable(m.table);
      await table.checkout(m.tableVersion);
    } catch (e) {
      throw storeError(location, lance.variables, lance.secrets, e, 'read');
    }
    try {
      for await (const batch of table.query().select(columns)) {
        yield batch.toArray().map((r) => r.toJSON() as Record<string, unknown>);
      }
    } finally {
      table.close();
    }
  };
  return {
    engine: 'lancedb',
    modelId: m.modelId,
    dim: m.dim,
    count: m.count,
    async *rows() {
      for await (const rows of scan([...META_COLUMNS, 'vector'])) {
        const vectors = new Float32Array(rows.length * m.dim);
        rows.forEach((r, i) => {
          vectors.set(vectorOf(r.vector), i * m.dim);
        });
        yield { entries: rows.map(rowToEntry), vectors };
      }
    },
    async *entries() {
      for await (const rows of scan([...META_COLUMNS])) yield rows.map(rowToEntry);
    },
  };
}

/** A fixed-size-list cell as LanceDB hands it to JS (an Arrow vector or a plain array). */
export function vectorOf(v: unknown): Float32Array {
  if (v instanceof Float32Array) return v;
  if (v && typeof (v as { toArray?: unknown }).toArray === 'function')
    return Float32Array.from((v as { toArray: () => ArrayLike<number> }).toArray());
  return Float32Array.from(v as ArrayLike<number>);
}

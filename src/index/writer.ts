import { writeFile } from 'node:fs/promises';
import { LocalIndexWriter } from './engines/local-writer.ts';
import type { IndexManifest, StoredEntry } from './format.ts';

export interface WriteIndexInput {
  modelId: string;
  dim: number;
  /** count × dim, row-major. Rows are L2-normalised on write (in place). */
  vectors: Float32Array;
  entries: StoredEntry[];
  imagesRoot?: string;
  /** Entries may name absolute paths (`index --allow-absolute-paths`). */
  allowAbsolutePaths?: boolean;
  hosts?: string[];
  source?: string;
  /** `flat` (default) or `int8`. */
  engine?: 'flat' | 'int8';
}

/**
 * Writes a whole index folder from rows held in memory (tests, the benchmark, small tools). Large
 * inputs stream through {@link LocalIndexWriter} instead; this is that writer fed in one batch.
 */
export async function writeIndex(dir: string, input: WriteIndexInput): Promise<IndexManifest> {
  const count = input.entries.length;
  if (input.vectors.length !== count * input.dim) {
    throw new Error(`writeIndex: ${input.vectors.length} values for ${count} entries of dim ${input.dim}`);
  }
  const writer = await LocalIndexWriter.open(dir, {
    engine: input.engine ?? 'flat',
    modelId: input.modelId,
    dim: input.dim,
  });
  await writer.append(input.entries, input.vectors);
  return writer.commit({
    ...(input.hosts ? { hosts: input.hosts } : {}),
    ...(input.imagesRoot ? { imagesRoot: input.imagesRoot } : {}),
    ...(input.allowAbsolutePaths ? { allowAbsolutePaths: true } : {}),
    ...(input.source ? { source: input.source } : {}),
  });
}

/** Appends one JSON object per line (skip reports). */
export async function writeJsonLines(file: string, rows: unknown[]): Promise<void> {
  await writeFile(file, rows.map((r) => JSON.stringify(r)).join('\n') + (rows.length ? '\n' : ''));
}

import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from '../util/fs-atomic.ts';
import { l2normalize } from '../vector/math.ts';
import {
  INDEX_FILE,
  INDEX_FORMAT,
  INDEX_VERSION,
  type IndexManifest,
  readManifest,
  type StoredEntry,
  sha256,
} from './format.ts';

export interface WriteIndexInput {
  modelId: string;
  dim: number;
  /** count × dim, row-major. Rows are L2-normalised on write. */
  vectors: Float32Array;
  entries: StoredEntry[];
  imagesRoot?: string;
  /** Entries may name absolute paths (`index --allow-absolute-paths`). */
  allowAbsolutePaths?: boolean;
  hosts?: string[];
  source?: string;
}

/**
 * Writes an index directory (format in ./format.ts). Data files first under content-hashed names,
 * then index.json by atomic rename; only then are files of earlier versions removed.
 */
export async function writeIndex(dir: string, input: WriteIndexInput): Promise<IndexManifest> {
  const count = input.entries.length;
  if (input.vectors.length !== count * input.dim) {
    throw new Error(`writeIndex: ${input.vectors.length} values for ${count} entries of dim ${input.dim}`);
  }
  for (let r = 0; r < count; r++) l2normalize(input.vectors.subarray(r * input.dim, (r + 1) * input.dim));
  await mkdir(dir, { recursive: true });
  const bytes = new Uint8Array(input.vectors.buffer, input.vectors.byteOffset, input.vectors.byteLength);
  const vectorsSha256 = sha256(bytes);
  const entriesText = input.entries.map((e) => JSON.stringify(e)).join('\n') + (count ? '\n' : '');
  const entriesHash = sha256(new TextEncoder().encode(entriesText)).slice(0, 12);
  const vectorsFile = `vectors-${vectorsSha256.slice(0, 12)}.f32`;
  const entriesFile = `entries-${entriesHash}.jsonl`;
  await writeFileAtomic(path.join(dir, vectorsFile), bytes);
  await writeFileAtomic(path.join(dir, entriesFile), entriesText);

  let createdAt = new Date().toISOString();
  try {
    createdAt = (await readManifest(dir)).createdAt;
  } catch {
    // first version of this index
  }
  const manifest: IndexManifest = {
    format: INDEX_FORMAT,
    version: INDEX_VERSION,
    modelId: input.modelId,
    dim: input.dim,
    count,
    dtype: 'float32',
    vectorsFile,
    entriesFile,
    vectorsSha256,
    hosts: [...new Set(input.hosts ?? [])].sort(),
    createdAt,
    updatedAt: new Date().toISOString(),
  };
  if (input.imagesRoot) manifest.imagesRoot = input.imagesRoot;
  if (input.allowAbsolutePaths) manifest.allowAbsolutePaths = true;
  if (input.source) manifest.source = input.source;
  await writeFileAtomic(path.join(dir, INDEX_FILE), `${JSON.stringify(manifest, null, 2)}\n`);

  for (const name of await readdir(dir)) {
    const stale =
      /^(vectors-[0-9a-f]+\.f32|entries-[0-9a-f]+\.jsonl)$/.test(name) &&
      name !== vectorsFile &&
      name !== entriesFile;
    if (stale || name.includes('.tmp-')) await rm(path.join(dir, name), { force: true });
  }
  return manifest;
}

/** Appends one JSON object per line (skip reports). */
export async function writeJsonLines(file: string, rows: unknown[]): Promise<void> {
  await writeFile(file, rows.map((r) => JSON.stringify(r)).join('\n') + (rows.length ? '\n' : ''));
}

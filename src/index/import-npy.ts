import { readFile } from 'node:fs/promises';
import { parse } from 'csv-parse/sync';
import { ImageSearchError } from '../core/errors.ts';
import type { StoredEntry } from './format.ts';
import { readNpy } from './npy.ts';
import { readManifestFile } from './sources.ts';
import { writeIndex } from './writer.ts';

export interface ImportNpyOptions {
  features: string;
  ids: string;
  /** Optional Unsplash photos.tsv000 or generic manifest for URLs, pages and credits. */
  manifest?: string;
  outDir: string;
  /** Model the features were computed with (the prototype used OpenAI CLIP ViT-B/32). */
  modelId?: string;
}

export const PROTOTYPE_MODEL_ID = 'openai/clip-vit-base-patch32';

/**
 * Imports the prototype's `features.npy` (N×D, `<f2` or `<f4`) and `photo_ids.csv` (header
 * `photo_id`) as an index; rows are re-normalised (float16 rounding shifts norms slightly).
 */
export async function importNpy(opts: ImportNpyOptions): Promise<{ count: number; withMetadata: number }> {
  const matrix = await readNpy(opts.features);
  let rows: Record<string, string>[];
  try {
    rows = parse(await readFile(opts.ids, 'utf8'), {
      columns: true,
      skip_empty_lines: true,
      bom: true,
      trim: true,
    });
  } catch (e) {
    throw new ImageSearchError('usage', `Can't read ids from ${opts.ids}: ${(e as Error).message}`, {
      cause: e,
    });
  }
  const column = rows[0] && ('photo_id' in rows[0] ? 'photo_id' : 'id' in rows[0] ? 'id' : undefined);
  if (!column) throw new ImageSearchError('usage', `${opts.ids} needs a header line "photo_id" (or "id").`);
  const ids = rows.map((r) => r[column] ?? '');
  if (ids.length !== matrix.rows) {
    throw new ImageSearchError(
      'usage',
      `${opts.features} has ${matrix.rows} rows but ${opts.ids} lists ${ids.length} ids; they must match row for row.`,
    );
  }
  const meta = new Map<string, StoredEntry>();
  let hosts: string[] = [];
  let imagesRoot: string | undefined;
  if (opts.manifest) {
    const listing = await readManifestFile(opts.manifest);
    for (const e of listing.entries) meta.set(e.id, e);
    hosts = listing.hosts;
    // The manifest's relative paths are read from its folder, as in an index build.
    imagesRoot = listing.imagesRoot;
  }
  const seen = new Set<string>();
  const entries: StoredEntry[] = [];
  const keep: number[] = [];
  ids.forEach((id, i) => {
    if (!id || seen.has(id)) return;
    seen.add(id);
    entries.push(meta.get(id) ?? { id });
    keep.push(i);
  });
  const vectors = new Float32Array(keep.length * matrix.cols);
  for (const [j, row] of keep.entries()) {
    vectors.set(matrix.data.subarray(row * matrix.cols, (row + 1) * matrix.cols), j * matrix.cols);
  }
  await writeIndex(opts.outDir, {
    modelId: opts.modelId ?? PROTOTYPE_MODEL_ID,
    dim: matrix.cols,
    vectors,
    entries,
    hosts,
    ...(imagesRoot ? { imagesRoot } : {}),
    source: `npy ${opts.features} (${matrix.dtype})`,
  });
  return { count: entries.length, withMetadata: entries.filter((e) => e.url || e.path).length };
}

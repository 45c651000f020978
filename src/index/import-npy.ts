import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'csv-parse';
import { ImageSearchError } from '../core/errors.ts';
import { type Logger, silentLogger } from '../util/logger.ts';
import { startProgress } from '../util/progress.ts';
import { diskFullOr, isDiskFull } from './disk-full.ts';
import type { EngineName } from './engines/types.ts';
import type { StoredEntry } from './format.ts';
import { parseIndexLocation } from './location.ts';
import { NpyRowReader } from './npy.ts';
import { openIndexWriter } from './open.ts';
import { readManifestFile } from './sources.ts';

export interface ImportNpyOptions {
  features: string;
  ids: string;
  /** Optional Unsplash photos.tsv000 or generic manifest for URLs, pages and credits. */
  manifest?: string;
  /** Index folder or s3:// location. */
  outDir: string;
  /** Model the features were computed with (the prototype used OpenAI CLIP ViT-B/32). */
  modelId?: string;
  /** Engine to build for (default flat). */
  engine?: EngineName;
  /** Rows read per batch (default 8192: 16 MB of 512-d float32). */
  batchRows?: number;
  /** lancedb: rows below which no ANN index is built. */
  annMinRows?: number;
  logger?: Logger;
  progress?: boolean;
  signal?: AbortSignal;
}

export interface ImportNpyResult {
  count: number;
  withMetadata: number;
  /** Rows an interrupted run had already written (0 on a fresh import). */
  resumedRows: number;
}

export const PROTOTYPE_MODEL_ID = 'openai/clip-vit-base-patch32';

/**
 * Imports the prototype's `features.npy` (N×D, `<f2` or `<f4`) and `photo_ids.csv` (header
 * `photo_id`) as an index; rows are re-normalised (float16 rounding shifts norms slightly).
 *
 * Streams: the matrix is read in row batches and written as it goes, so memory holds one batch plus
 * the ids, whatever N. The writer stages rows under a key made from the inputs; a killed import rerun
 * with the same inputs carries on after the rows it had written, and nothing is served until the
 * last row is in.
 */
export async function importNpy(opts: ImportNpyOptions): Promise<ImportNpyResult> {
  try {
    return await importRows(opts);
  } catch (e) {
    if (!isDiskFull(e)) throw e;
    const location = parseIndexLocation(opts.outDir);
    throw diskFullOr(e, location.kind === 'local' ? location.dir : os.tmpdir());
  }
}

async function importRows(opts: ImportNpyOptions): Promise<ImportNpyResult> {
  const logger = opts.logger ?? silentLogger();
  const engine = opts.engine ?? 'flat';
  const modelId = opts.modelId ?? PROTOTYPE_MODEL_ID;
  const reader = await NpyRowReader.open(opts.features);
  try {
    const { rows, cols, dtype } = reader.header;
    if (cols === 0) {
      throw new ImageSearchError(
        'usage',
        `${opts.features} has 0 columns: its rows hold no vectors. Export the features as N×512 (one row per photo).`,
      );
    }
    const ids = await readIds(opts.ids);
    if (ids.length !== rows) {
      throw new ImageSearchError(
        'usage',
        `${opts.features} has ${rows} rows but ${opts.ids} lists ${ids.length} ids; they must match row for row.`,
      );
    }
    // Rows kept: the first of each id (a duplicate or empty id is dropped, as before).
    const seen = new Set<string>();
    const keep = new Uint8Array(rows);
    let kept = 0;
    ids.forEach((id, i) => {
      if (!id || seen.has(id)) return;
      seen.add(id);
      keep[i] = 1;
      kept++;
    });
    seen.clear();
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
    const writer = await openIndexWriter(opts.outDir, {
      engine,
      modelId,
      dim: cols,
      resumeKey: await inputsKey(opts, engine, modelId),
      logger,
      ...(opts.annMinRows === undefined ? {} : { annMinRows: opts.annMinRows }),
    });
    const resumedRows = writer.resumedRows;
    if (resumedRows > kept) throw new Error(`staged ${resumedRows} rows but the input keeps only ${kept}`);
    if (resumedRows > 0) logger.info({ resumedRows, of: kept }, 'resuming an interrupted import');
    const progress = startProgress({
      label: 'Importing vectors',
      total: kept,
      unit: 'items',
      logger,
      start: resumedRows,
      enabled: opts.progress ?? false,
    });
    let withMetadata = 0;
    try {
      // Skip the source rows whose kept rows are already staged.
      let skip = resumedRows;
      let first = 0;
      for (; first < rows && skip > 0; first++) if (keep[first]) skip--;
      const batch = Math.max(1, opts.batchRows ?? 8192);
      for (let start = first; start < rows; start += batch) {
        opts.signal?.throwIfAborted();
        const n = Math.min(batch, rows - start);
        const block = await reader.read(start, n);
        const entries: StoredEntry[] = [];
        const vectors = new Float32Array(n * cols);
        for (let i = 0; i < n; i++) {
          if (!keep[start + i]) continue;
          const row = block.subarray(i * cols, (i + 1) * cols);
          const id = ids[start + i]!;
          checkRow(row, start + i, id, opts.features);
          vectors.set(row, entries.length * cols);
          entries.push(meta.get(id) ?? { id });
        }
        await writer.append(entries, vectors.subarray(0, entries.length * cols));
        progress.increment(entries.length);
      }
      for (let i = 0; i < rows; i++) {
        const e = keep[i] ? meta.get(ids[i]!) : undefined;
        if (e?.url || e?.path) withMetadata++;
      }
      logger.info({ rows: kept, engine }, 'publishing the imported index');
      const { count } = await writer.commit({
        hosts,
        ...(imagesRoot ? { imagesRoot } : {}),
        source: `npy ${opts.features} (${dtype})`,
      });
      return { count, withMetadata, resumedRows };
    } finally {
      progress.stop();
    }
  } finally {
    await reader.close();
  }
}

/**
 * Refuses a row that can never be searched: a non-finite value (NaN, ±Inf, e.g. a float16 overflow)
 * or all zeros (no direction to normalise). Either made an index that published and then never loaded.
 */
function checkRow(row: Float32Array, index: number, id: string, file: string): void {
  let zero = true;
  for (const v of row) {
    if (!Number.isFinite(v)) {
      throw new ImageSearchError(
        'usage',
        `${file} row ${index + 1} (id ${id}) holds a value that is not a finite number (NaN or infinity); fix or drop that row and import again.`,
      );
    }
    if (v !== 0) zero = false;
  }
  if (zero) {
    throw new ImageSearchError(
      'usage',
      `${file} row ${index + 1} (id ${id}) is all zeros: it has no direction to search by; fix or drop that row and import again.`,
    );
  }
}

/** The ids column (`photo_id` or `id`), streamed from the CSV. */
async function readIds(file: string): Promise<string[]> {
  const ids: string[] = [];
  let column: string | undefined;
  try {
    const parser = parse({ columns: true, skip_empty_lines: true, bom: true, trim: true });
    // pipe() does not pass the file's own errors on: a missing file would hang the loop below and
    // throw where nothing catches it.
    createReadStream(file)
      .on('error', (e) => parser.destroy(e))
      .pipe(parser);
    for await (const row of parser as AsyncIterable<Record<string, string>>) {
      column ??= 'photo_id' in row ? 'photo_id' : 'id' in row ? 'id' : '';
      if (!column) break;
      ids.push(row[column] ?? '');
    }
  } catch (e) {
    throw new ImageSearchError('usage', `Can't read ids from ${file}: ${(e as Error).message}`, { cause: e });
  }
  if (!column) throw new ImageSearchError('usage', `${file} needs a header line "photo_id" (or "id").`);
  return ids;
}

/** Identifies the inputs, so a rerun resumes only the very same import. */
async function inputsKey(opts: ImportNpyOptions, engine: string, modelId: string): Promise<string> {
  const h = createHash('sha256').update(`${engine}\n${modelId}\n`);
  for (const f of [opts.features, opts.ids, opts.manifest]) {
    if (!f) continue;
    const st = await stat(f);
    h.update(`${path.resolve(f)}\n${st.size}\n${Math.round(st.mtimeMs)}\n`);
  }
  return h.digest('hex').slice(0, 16);
}

import { existsSync } from 'node:fs';
import { appendFile, mkdir, open, readFile, rm, stat, truncate } from 'node:fs/promises';
import path from 'node:path';
import pLimit from 'p-limit';
import { MAX_INPUT_BYTES } from '../clip/preprocess.ts';
import { isImageSearchError } from '../core/errors.ts';
import type { Embedder } from '../core/types.ts';
import { realImagePath } from '../util/contained-path.ts';
import type { Logger } from '../util/logger.ts';
import { startProgress } from '../util/progress.ts';
import { entrySchema, type StoredEntry, sha256 } from './format.ts';
import { listImageFolder, readManifestFile, type SourceListing } from './sources.ts';
import { FlatVectorIndex } from './vector-index.ts';
import { writeIndex, writeJsonLines } from './writer.ts';

export type IndexSource = { kind: 'images'; dir: string } | { kind: 'manifest'; file: string };

export interface BuildIndexOptions {
  embedder: Embedder;
  outDir: string;
  source: IndexSource;
  batchSize?: number;
  logger: Logger;
  /** Show a progress bar (TTY) or progress log lines. */
  progress?: boolean;
  signal?: AbortSignal;
  /**
   * Fetches a remote entry's image (URL manifests), given the hosts the source's URLs point at;
   * local paths are read directly.
   */
  fetchImage?: (entry: StoredEntry, hosts: readonly string[]) => Promise<Buffer>;
  /** Parallel image loads (default 8). */
  concurrency?: number;
  /**
   * Take absolute paths from a manifest (`index --allow-absolute-paths`), and record in index.json
   * that serving may read them. Off: paths are relative to the photo folder and stay inside it.
   */
  allowAbsolutePaths?: boolean;
}

export interface BuildReport {
  total: number;
  /** Newly embedded this run. */
  added: number;
  /** Taken over unchanged from the previous index or an interrupted run. */
  reused: number;
  /** In the previous index but no longer in the source. */
  removed: number;
  skipped: { id: string; reason: string }[];
  /** True when an interrupted build's work was picked up. */
  resumed: boolean;
  outDir: string;
}

/**
 * Builds or incrementally updates an index from a folder or manifest. Unchanged entries (same id
 * and fingerprint) keep their vectors; new and changed ones are embedded; removed ones dropped.
 * Work is checkpointed after every batch under `<outDir>/.build-<model>/`, so a killed build resumes
 * where it stopped. Unreadable, corrupt or oversized images are skipped and reported, never fatal.
 */
export async function buildIndex(opts: BuildIndexOptions): Promise<BuildReport> {
  const { embedder, logger } = opts;
  const outDir = path.resolve(opts.outDir);
  const listing: SourceListing =
    opts.source.kind === 'images'
      ? await listImageFolder(opts.source.dir)
      : await readManifestFile(opts.source.file, { allowAbsolutePaths: opts.allowAbsolutePaths });
  const skipped: { id: string; reason: string }[] = [...listing.rejected];

  // Vectors we can keep: the current index (same model) and an interrupted run's checkpoint.
  const known = new Map<string, { fingerprint: string | undefined; vector: Float32Array }>();
  let previousIds: string[] = [];
  if (existsSync(path.join(outDir, 'index.json'))) {
    try {
      const prev = await FlatVectorIndex.load(outDir, {
        expect: { modelId: embedder.modelId, dim: embedder.dim },
      });
      previousIds = prev.entries.map((e) => e.id);
      prev.entries.forEach((e, i) => {
        known.set(e.id, {
          fingerprint: e.fingerprint,
          vector: prev.vectors.subarray(i * prev.dim, (i + 1) * prev.dim),
        });
      });
      await prev.close();
    } catch (e) {
      logger.warn(
        { err: isImageSearchError(e) ? e.userMessage : String(e) },
        'existing index not reusable; rebuilding',
      );
    }
  }
  const checkpoint = new Checkpoint(
    path.join(outDir, `.build-${sha256(new TextEncoder().encode(embedder.modelId)).slice(0, 8)}`),
    embedder.dim,
  );
  const resumedRows = await checkpoint.open();
  for (const row of resumedRows)
    known.set(row.entry.id, { fingerprint: row.entry.fingerprint, vector: row.vector });

  const todo = listing.entries.filter((e) => {
    const k = known.get(e.id);
    return !(k && k.fingerprint === e.fingerprint);
  });
  const sourceIds = new Set(listing.entries.map((e) => e.id));
  const report: BuildReport = {
    total: 0,
    added: 0,
    reused: listing.entries.length - todo.length,
    removed: previousIds.filter((id) => !sourceIds.has(id)).length,
    skipped,
    resumed: resumedRows.length > 0,
    outDir,
  };
  logger.info(
    {
      source: listing.description,
      entries: listing.entries.length,
      toEmbed: todo.length,
      reused: report.reused,
      resumed: report.resumed,
    },
    'building index',
  );

  const progress = startProgress({
    label: 'Embedding images',
    total: todo.length,
    unit: 'items',
    logger,
    enabled: opts.progress ?? true,
  });
  const batchSize = Math.max(1, opts.batchSize ?? 16);
  const limit = pLimit(opts.concurrency ?? 8);
  const failed = new Set<string>();
  try {
    for (let start = 0; start < todo.length; start += batchSize) {
      opts.signal?.throwIfAborted();
      const batch = todo.slice(start, start + batchSize);
      const loaded = await Promise.all(
        batch.map((entry) =>
          limit(async () => {
            try {
              return {
                entry,
                bytes: await loadImage(entry, listing, opts.allowAbsolutePaths === true, opts.fetchImage),
              };
            } catch (e) {
              return { entry, error: reasonOf(e) };
            }
          }),
        ),
      );
      const ok: { entry: StoredEntry; bytes: Buffer }[] = [];
      for (const l of loaded) {
        if ('bytes' in l && l.bytes) ok.push({ entry: l.entry, bytes: l.bytes });
        else {
          skipped.push({ id: l.entry.id, reason: l.error ?? 'unreadable' });
          failed.add(l.entry.id);
        }
      }
      const vectors = await embedIsolatingFailures(embedder, ok, (id, reason) => {
        skipped.push({ id, reason });
        failed.add(id);
      });
      await checkpoint.append(vectors);
      for (const v of vectors) known.set(v.entry.id, { fingerprint: v.entry.fingerprint, vector: v.vector });
      report.added += vectors.length;
      progress.increment(batch.length);
    }
  } finally {
    progress.stop();
  }

  // Assemble in source order.
  const finalEntries: StoredEntry[] = [];
  const rows: Float32Array[] = [];
  for (const e of listing.entries) {
    const k = known.get(e.id);
    if (failed.has(e.id) || !k || k.fingerprint !== e.fingerprint) continue;
    finalEntries.push(e);
    rows.push(k.vector);
  }
  const matrix = new Float32Array(finalEntries.length * embedder.dim);
  for (const [i, r] of rows.entries()) matrix.set(r, i * embedder.dim);
  const writeInput: Parameters<typeof writeIndex>[1] = {
    modelId: embedder.modelId,
    dim: embedder.dim,
    vectors: matrix,
    entries: finalEntries,
    hosts: listing.hosts,
    source: listing.description,
  };
  if (listing.imagesRoot) writeInput.imagesRoot = listing.imagesRoot;
  if (opts.allowAbsolutePaths) writeInput.allowAbsolutePaths = true;
  await writeIndex(outDir, writeInput);
  await writeJsonLines(path.join(outDir, 'skipped.jsonl'), skipped);
  await checkpoint.remove();
  report.total = finalEntries.length;
  logger.info(
    {
      total: report.total,
      added: report.added,
      reused: report.reused,
      removed: report.removed,
      skipped: skipped.length,
    },
    'index written',
  );
  return report;
}

async function loadImage(
  entry: StoredEntry,
  listing: SourceListing,
  allowAbsolute: boolean,
  fetchImage: BuildIndexOptions['fetchImage'],
): Promise<Buffer> {
  if (entry.path) {
    // Checked again as it is read: a symlink may have changed since the listing.
    const file = await realImagePath(entry.path, { root: listing.imagesRoot, allowAbsolute });
    const st = await stat(file);
    if (st.size > MAX_INPUT_BYTES) throw new Error(`file is larger than ${MAX_INPUT_BYTES >> 20} MB`);
    return readFile(file);
  }
  if (entry.url && fetchImage) return fetchImage(entry, listing.hosts);
  throw new Error(entry.url ? 'remote image but no fetcher configured' : 'no path or url');
}

/** Embeds a batch; if one image breaks the batch, embeds one by one to find and skip it. */
async function embedIsolatingFailures(
  embedder: Embedder,
  items: { entry: StoredEntry; bytes: Buffer }[],
  onSkip: (id: string, reason: string) => void,
): Promise<{ entry: StoredEntry; vector: Float32Array }[]> {
  if (items.length === 0) return [];
  try {
    const vectors = await embedder.embedImages(items.map((i) => i.bytes));
    return items.map((item, i) => ({ entry: item.entry, vector: vectors[i]! }));
  } catch (batchError) {
    // Only a bad image is skipped; anything else (the model failing, memory) stops the build,
    // which then resumes from its last checkpoint.
    if (!isImageError(batchError)) throw batchError;
    const out: { entry: StoredEntry; vector: Float32Array }[] = [];
    for (const item of items) {
      try {
        const [vector] = await embedder.embedImages([item.bytes]);
        out.push({ entry: item.entry, vector: vector! });
      } catch (e) {
        if (!isImageError(e)) throw e;
        onSkip(item.entry.id, reasonOf(e));
      }
    }
    return out;
  }
}

function isImageError(e: unknown): boolean {
  return isImageSearchError(e) && (e.code === 'image_invalid' || e.code === 'image_too_large');
}

function reasonOf(e: unknown): string {
  if (isImageSearchError(e)) return e.code === 'image_too_large' ? `too large: ${e.userMessage}` : e.message;
  const err = e as NodeJS.ErrnoException;
  if (err?.code === 'ENOENT') return 'file not found';
  return err instanceof Error ? err.message : String(e);
}

/** Append-only checkpoint of embedded rows: entries.jsonl + vectors.f32, kept consistent on reopen. */
class Checkpoint {
  constructor(
    private readonly dir: string,
    private readonly dim: number,
  ) {}

  private get entriesFile(): string {
    return path.join(this.dir, 'entries.jsonl');
  }
  private get vectorsFile(): string {
    return path.join(this.dir, 'vectors.f32');
  }

  /** Rows finished by an interrupted run (a torn last write is discarded). */
  async open(): Promise<{ entry: StoredEntry; vector: Float32Array }[]> {
    await mkdir(this.dir, { recursive: true });
    if (!existsSync(this.entriesFile) || !existsSync(this.vectorsFile)) {
      await rm(this.entriesFile, { force: true });
      await rm(this.vectorsFile, { force: true });
      return [];
    }
    const lines = (await readFile(this.entriesFile, 'utf8')).split('\n');
    const entries: StoredEntry[] = [];
    for (const line of lines) {
      if (!line) continue;
      try {
        const parsed = entrySchema.safeParse(JSON.parse(line));
        if (!parsed.success) break;
        entries.push(parsed.data);
      } catch {
        break;
      }
    }
    const rowBytes = this.dim * 4;
    const vecSize = (await stat(this.vectorsFile)).size;
    const n = Math.min(entries.length, Math.floor(vecSize / rowBytes));
    // Make both files agree on n rows, so later appends line up.
    await truncate(this.vectorsFile, n * rowBytes);
    const kept = entries.slice(0, n);
    await writeJsonLines(this.entriesFile, kept);
    const buf = new Float32Array(n * this.dim);
    const fh = await open(this.vectorsFile, 'r');
    try {
      await fh.read(new Uint8Array(buf.buffer), 0, n * rowBytes, 0);
    } finally {
      await fh.close();
    }
    return kept.map((entry, i) => ({ entry, vector: buf.subarray(i * this.dim, (i + 1) * this.dim) }));
  }

  async append(rows: { entry: StoredEntry; vector: Float32Array }[]): Promise<void> {
    if (rows.length === 0) return;
    const vec = new Float32Array(rows.length * this.dim);
    for (const [i, r] of rows.entries()) vec.set(r.vector, i * this.dim);
    // Vectors first: on a crash between the two writes, open() trims to the shorter file.
    await appendFile(this.vectorsFile, new Uint8Array(vec.buffer));
    await appendFile(this.entriesFile, rows.map((r) => `${JSON.stringify(r.entry)}\n`).join(''));
  }

  async remove(): Promise<void> {
    await rm(this.dir, { recursive: true, force: true });
  }
}

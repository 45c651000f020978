import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pLimit from 'p-limit';
import { MAX_INPUT_BYTES } from '../clip/preprocess.ts';
import { isImageSearchError } from '../core/errors.ts';
import type { Embedder } from '../core/types.ts';
import { realImagePath } from '../util/contained-path.ts';
import type { Logger } from '../util/logger.ts';
import { startProgress } from '../util/progress.ts';
import { diskFullOr } from './disk-full.ts';
import type { EngineName } from './engines/types.ts';
import { type StoredEntry, sha256 } from './format.ts';
import { parseIndexLocation } from './location.ts';
import { openIndexWriter } from './open.ts';
import { type PublishedIndex, readPublished } from './published.ts';
import { RowLog } from './row-log.ts';
import { listImageFolder, readManifestFile, type SourceListing } from './sources.ts';
import { writeJsonLines } from './writer.ts';

export type IndexSource = { kind: 'images'; dir: string } | { kind: 'manifest'; file: string };

export interface BuildIndexOptions {
  embedder: Embedder;
  /** Index folder or s3:// location. */
  outDir: string;
  source: IndexSource;
  /** Engine to build for; default: the engine of the index already there, else flat. */
  engine?: EngineName;
  /** lancedb: rows below which no ANN index is built. */
  annMinRows?: number;
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
  env?: NodeJS.ProcessEnv;
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
  engine: EngineName;
}

/**
 * Builds or incrementally updates an index from a folder or manifest, for any engine. Unchanged
 * entries (same id and fingerprint) keep their vectors; new and changed ones are embedded; removed
 * ones dropped. Embeddings are checkpointed after every batch (a {@link RowLog} in
 * `<outDir>/.build-<model>/`, or under the OS temp folder for object storage), so a killed build
 * resumes where it stopped. Unreadable, corrupt or oversized images are skipped and reported.
 *
 * Memory: the source listing and one small record per id; vectors stream from the previous index
 * and the checkpoint into the writer, never all at once.
 */
export async function buildIndex(opts: BuildIndexOptions): Promise<BuildReport> {
  const location = parseIndexLocation(opts.outDir);
  try {
    return await build(opts, location);
  } catch (e) {
    const checkpoint = path.dirname(checkpointDir(location, opts.embedder.modelId));
    throw diskFullOr(e, location.kind === 'local' ? location.dir : checkpoint, [checkpoint]);
  }
}

async function build(
  opts: BuildIndexOptions,
  location: ReturnType<typeof parseIndexLocation>,
): Promise<BuildReport> {
  const { embedder, logger } = opts;
  const listing: SourceListing =
    opts.source.kind === 'images'
      ? await listImageFolder(opts.source.dir)
      : await readManifestFile(opts.source.file, { allowAbsolutePaths: opts.allowAbsolutePaths });
  const skipped: { id: string; reason: string }[] = [...listing.rejected];
  const source = new Map(listing.entries.map((e) => [e.id, e]));

  // What the published index holds (same model): id → fingerprint and metadata hash.
  let prev: PublishedIndex | undefined;
  const prevRows = new Map<string, { fingerprint: string | undefined; meta: number }>();
  try {
    prev = await readPublished(location.uri, opts.env);
    if (prev && (prev.modelId !== embedder.modelId || prev.dim !== embedder.dim)) {
      logger.warn(
        { built: prev.modelId, dim: prev.dim },
        'existing index was built with another model; rebuilding',
      );
      prev = undefined;
    }
    if (prev)
      for await (const batch of prev.entries())
        for (const e of batch) prevRows.set(e.id, { fingerprint: e.fingerprint, meta: metaHash(e) });
  } catch (e) {
    if (isImageSearchError(e) && e.code === 'config_invalid') throw e;
    logger.warn(
      { err: isImageSearchError(e) ? e.userMessage : String(e) },
      'existing index not reusable; rebuilding',
    );
    prev = undefined;
    prevRows.clear();
  }
  const engine: EngineName = opts.engine ?? prev?.engine ?? 'flat';

  const checkpoint = await RowLog.open(checkpointDir(location, embedder.modelId), embedder.dim);
  // id → its latest checkpoint row (a file changed twice across killed runs has two rows).
  const ckpt = new Map<string, { fingerprint: string | undefined; row: number }>();
  {
    let row = 0;
    for await (const batch of checkpoint.read())
      for (const e of batch.entries) ckpt.set(e.id, { fingerprint: e.fingerprint, row: row++ });
  }
  const resumed = ckpt.size > 0;

  const todo = listing.entries.filter(
    (e) => ckpt.get(e.id)?.fingerprint !== e.fingerprint && prevRows.get(e.id)?.fingerprint !== e.fingerprint,
  );
  const report: BuildReport = {
    total: 0,
    added: 0,
    reused: listing.entries.length - todo.length,
    removed: [...prevRows.keys()].filter((id) => !source.has(id)).length,
    skipped,
    resumed,
    outDir: location.uri,
    engine,
  };
  logger.info(
    {
      source: listing.description,
      entries: listing.entries.length,
      toEmbed: todo.length,
      reused: report.reused,
      resumed,
      engine,
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
      if (vectors.length > 0) {
        const matrix = new Float32Array(vectors.length * embedder.dim);
        vectors.forEach((v, i) => {
          matrix.set(v.vector, i * embedder.dim);
        });
        const first = checkpoint.count;
        await checkpoint.append(
          vectors.map((v) => v.entry),
          matrix,
        );
        vectors.forEach((v, i) => {
          ckpt.set(v.entry.id, { fingerprint: v.entry.fingerprint, row: first + i });
        });
      }
      report.added += vectors.length;
      progress.increment(batch.length);
    }
  } finally {
    progress.stop();
  }

  // Where each source entry's vector comes from this time.
  const fromCheckpoint = new Set<string>();
  const keptFromPrev = new Set<string>();
  for (const e of listing.entries) {
    if (failed.has(e.id)) continue;
    if (ckpt.get(e.id)?.fingerprint === e.fingerprint) fromCheckpoint.add(e.id);
    else if (prevRows.get(e.id)?.fingerprint === e.fingerprint) keptFromPrev.add(e.id);
  }
  // Rows of the previous index that stay as they are (same vector and same metadata).
  const untouched = new Set(
    [...keptFromPrev].filter((id) => prevRows.get(id)?.meta === metaHash(source.get(id)!)),
  );
  const inPlace = engine === 'lancedb' && prev?.engine === 'lancedb';
  const writer = await openIndexWriter(location.uri, {
    engine,
    modelId: embedder.modelId,
    dim: embedder.dim,
    logger,
    ...(opts.annMinRows === undefined ? {} : { annMinRows: opts.annMinRows }),
    ...(opts.env ? { env: opts.env } : {}),
    // LanceDB updates the published table in place: only the rows that change are touched.
    ...(inPlace
      ? { update: { removeIds: new Set([...prevRows.keys()].filter((id) => !untouched.has(id))) } }
      : {}),
  });
  try {
    const copyFromPrev = inPlace
      ? new Set([...keptFromPrev].filter((id) => !untouched.has(id)))
      : keptFromPrev;
    if (prev && copyFromPrev.size > 0) {
      for await (const batch of prev.rows())
        await appendSelected(
          writer,
          batch,
          embedder.dim,
          (e) => copyFromPrev.has(e.id) && !fromCheckpoint.has(e.id),
          source,
        );
    }
    let row = 0;
    for await (const batch of checkpoint.read()) {
      const first = row;
      row += batch.entries.length;
      await appendSelected(
        writer,
        batch,
        embedder.dim,
        (e, i) => fromCheckpoint.has(e.id) && ckpt.get(e.id)?.row === first + i,
        source,
      );
    }
    const { count } = await writer.commit({
      hosts: listing.hosts,
      source: listing.description,
      ...(listing.imagesRoot ? { imagesRoot: listing.imagesRoot } : {}),
      ...(opts.allowAbsolutePaths ? { allowAbsolutePaths: true } : {}),
    });
    report.total = count;
  } catch (e) {
    await writer.discard().catch(() => undefined);
    throw e;
  }
  if (location.kind === 'local') await writeJsonLines(path.join(location.dir, 'skipped.jsonl'), skipped);
  await checkpoint.remove();
  logger.info(
    {
      total: report.total,
      added: report.added,
      reused: report.reused,
      removed: report.removed,
      skipped: skipped.length,
      engine,
    },
    'index written',
  );
  return report;
}

/** Appends the rows of `batch` that `pick` selects, with the source's (current) metadata. */
async function appendSelected(
  writer: { append(entries: readonly StoredEntry[], vectors: Float32Array): Promise<void> },
  batch: { entries: StoredEntry[]; vectors: Float32Array },
  dim: number,
  pick: (e: StoredEntry, i: number) => boolean,
  source: ReadonlyMap<string, StoredEntry>,
): Promise<void> {
  const entries: StoredEntry[] = [];
  const vectors = new Float32Array(batch.vectors.length);
  batch.entries.forEach((e, i) => {
    if (!pick(e, i)) return;
    vectors.set(batch.vectors.subarray(i * dim, (i + 1) * dim), entries.length * dim);
    entries.push(source.get(e.id) ?? e);
  });
  if (entries.length) await writer.append(entries, vectors.subarray(0, entries.length * dim));
}

/** The checkpoint folder: inside a local index folder; under the OS temp folder for object storage. */
function checkpointDir(location: ReturnType<typeof parseIndexLocation>, modelId: string): string {
  const model = sha256(new TextEncoder().encode(modelId)).slice(0, 8);
  if (location.kind === 'local') return path.join(location.dir, `.build-${model}`);
  const where = createHash('sha256').update(location.uri).digest('hex').slice(0, 12);
  return path.join(os.tmpdir(), `imagesearch-build-${where}`, `.build-${model}`);
}

/** A hash of an entry's metadata in a fixed key order (detects a changed credit or URL). */
function metaHash(e: StoredEntry): number {
  const text = JSON.stringify(e, Object.keys(e).sort()) + JSON.stringify(e.credit ?? null);
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h >>> 0;
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

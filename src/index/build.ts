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
  /** Time spent embedding (reading, decoding, encoding, checkpointing) this run, in ms. */
  embedMs: number;
  /** Images embedded per second this run (0 when none were). */
  imagesPerSec: number;
}

/**
 * Builds or incrementally updates an index from a folder or manifest, for any engine. Unchanged
 * entries (same id and fingerprint) keep their vectors; new and changed ones are embedded; removed
 * ones dropped. Embeddings are checkpointed after every batch (a {@link RowLog} in
 * `<outDir>/.build-<model>/`, or under the OS temp folder for object storage), so a killed build
 * resumes where it stopped. Unreadable, corrupt or oversized images are skipped and reported.
 *
 * Three stages: {@link planBuild} (list the source, read what the published index and an interrupted
 * run already hold, decide what to embed), {@link embedPlan} (embed and checkpoint, batch by batch)
 * and {@link publishBuild} (write the new index from the previous one and the checkpoint, commit).
 *
 * Memory: the source listing and one small record per id; vectors stream from the previous index
 * and the checkpoint into the writer, never all at once.
 */
export async function buildIndex(opts: BuildIndexOptions): Promise<BuildReport> {
  const location = parseIndexLocation(opts.outDir);
  try {
    const plan = await planBuild(opts);
    await embedPlan(plan, opts);
    return await publishBuild(plan, opts);
  } catch (e) {
    const checkpoint = path.dirname(checkpointDir(location, opts.embedder.modelId));
    throw diskFullOr(e, location.kind === 'local' ? location.dir : checkpoint, [checkpoint]);
  }
}

/** What a build starts from and what it has to do; the embed stage adds to `ckpt`, `failed`, `report`. */
export interface BuildPlan {
  location: ReturnType<typeof parseIndexLocation>;
  listing: SourceListing;
  /** The source's entries by id. */
  source: Map<string, StoredEntry>;
  /** The published index (same model), if any. */
  prev: PublishedIndex | undefined;
  /** What the published index holds: id → fingerprint and metadata hash. */
  prevRows: Map<string, { fingerprint: string | undefined; meta: number }>;
  checkpoint: RowLog;
  /** id → its latest checkpoint row (a file changed twice across killed runs has two rows). */
  ckpt: Map<string, { fingerprint: string | undefined; row: number }>;
  /** Entries to embed this run. */
  todo: StoredEntry[];
  /** Ids whose image could not be read or embedded. */
  failed: Set<string>;
  report: BuildReport;
}

/** Stage 1: list the source, read the published index and the checkpoint, decide what to embed. */
export async function planBuild(opts: BuildIndexOptions): Promise<BuildPlan> {
  const { embedder, logger } = opts;
  const location = parseIndexLocation(opts.outDir);
  const listing: SourceListing =
    opts.source.kind === 'images'
      ? await listImageFolder(opts.source.dir)
      : await readManifestFile(opts.source.file, { allowAbsolutePaths: opts.allowAbsolutePaths });
  const source = new Map(listing.entries.map((e) => [e.id, e]));

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
    skipped: [...listing.rejected],
    resumed,
    outDir: location.uri,
    engine,
    embedMs: 0,
    imagesPerSec: 0,
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
  return { location, listing, source, prev, prevRows, checkpoint, ckpt, todo, failed: new Set(), report };
}

/** Stage 2: embed `plan.todo` batch by batch, each batch checkpointed before the next starts. */
export async function embedPlan(plan: BuildPlan, opts: BuildIndexOptions): Promise<void> {
  const { embedder, logger } = opts;
  const { todo, listing, checkpoint, ckpt, failed, report } = plan;
  const skip = (id: string, reason: string) => {
    report.skipped.push({ id, reason });
    failed.add(id);
  };
  const progress = startProgress({
    label: 'Embedding images',
    total: todo.length,
    unit: 'items',
    itemName: 'images',
    logger,
    enabled: opts.progress ?? true,
  });
  const batchSize = Math.max(1, opts.batchSize ?? 16);
  const limit = pLimit(opts.concurrency ?? 8);
  const started = performance.now();
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
        else skip(l.entry.id, l.error ?? 'unreadable');
      }
      const vectors = await embedIsolatingFailures(embedder, ok, skip);
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
    report.embedMs = Math.round(performance.now() - started);
    report.imagesPerSec =
      report.embedMs > 0 ? Math.round((report.added / (report.embedMs / 1000)) * 10) / 10 : 0;
  }
}

/** Stage 3: write the index from the previous one and the checkpoint, commit it, clear the checkpoint. */
export async function publishBuild(plan: BuildPlan, opts: BuildIndexOptions): Promise<BuildReport> {
  const { embedder, logger } = opts;
  const { location, listing, source, prev, prevRows, checkpoint, ckpt, failed, report } = plan;
  const engine = report.engine;
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
  if (location.kind === 'local')
    await writeJsonLines(path.join(location.dir, 'skipped.jsonl'), report.skipped);
  await checkpoint.remove();
  logger.info(
    {
      total: report.total,
      added: report.added,
      reused: report.reused,
      removed: report.removed,
      skipped: report.skipped.length,
      engine,
      embedSeconds: Math.round(report.embedMs / 100) / 10,
      imagesPerSec: report.imagesPerSec,
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

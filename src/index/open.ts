/**
 * The one way in for the composition root and the CLI: `openVectorIndex(location)` loads whatever
 * engine built the index there, `openIndexWriter(location, …)` streams a new one. A server-backed
 * engine (a Qdrant cluster, say) would be one more branch here implementing the same
 * {@link LoadedIndex} / VectorIndex port; nothing above this file would change.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { ImageSearchError } from '../core/errors.ts';
import type { Logger } from '../util/logger.ts';
import { INT8_DEFAULTS, Int8VectorIndex } from './engines/int8-index.ts';
import { hasLocalControlTable } from './engines/lance-connect.ts';
import { LanceVectorIndex } from './engines/lance-index.ts';
import { LanceIndexWriter } from './engines/lance-writer.ts';
import { LocalIndexWriter } from './engines/local-writer.ts';
import type { EngineName, IndexWriter, LoadedIndex } from './engines/types.ts';
import { INDEX_FILE, readManifest } from './format.ts';
import { type ObjectStoreSettings, parseIndexLocation } from './location.ts';
import { checkModel, FlatVectorIndex } from './vector-index.ts';

export interface OpenIndexOptions {
  /** The loaded model: an index made with another model or dimension is refused. */
  expect?: { modelId: string; dim: number };
  /** Verify checksums of what is loaded into memory (default true). */
  verify?: boolean;
  threads?: number;
  /** int8: rows re-scored exactly per query. */
  rescore?: number;
  /** lancedb: IVF partitions probed and refine factor. */
  nprobes?: number;
  refineFactor?: number;
  /** Where AWS_* variables are read (default process.env) when `objectStore` is not given. */
  env?: NodeJS.ProcessEnv;
  /** Object-storage settings as the configuration read them (Config.objectStore). */
  objectStore?: ObjectStoreSettings;
}

/** Which engine serves the index at `location`, or undefined when there is none yet. */
export async function detectEngine(rawLocation: string): Promise<EngineName | undefined> {
  const location = parseIndexLocation(rawLocation);
  if (location.kind === 's3') return 'lancedb';
  if (existsSync(path.join(location.dir, INDEX_FILE))) return (await readManifest(location.dir)).engine;
  if (hasLocalControlTable(location.dir)) return 'lancedb';
  return undefined;
}

/**
 * Loads the index at a folder or `s3://bucket/prefix`, with the engine that built it: index.json
 * says flat or int8; a LanceDB control table says lancedb; object storage is always LanceDB.
 */
export async function openVectorIndex(
  rawLocation: string,
  opts: OpenIndexOptions = {},
): Promise<LoadedIndex> {
  const location = parseIndexLocation(rawLocation);
  const engine = await detectEngine(rawLocation);
  if (engine === 'lancedb') {
    return LanceVectorIndex.open(location, {
      ...(opts.expect ? { expect: opts.expect } : {}),
      ...(opts.env ? { env: opts.env } : {}),
      ...(opts.objectStore ? { objectStore: opts.objectStore } : {}),
      ...(opts.nprobes ? { nprobes: opts.nprobes } : {}),
      ...(opts.refineFactor ? { refineFactor: opts.refineFactor } : {}),
    });
  }
  if (location.kind !== 'local') throw new Error('unreachable: object storage is LanceDB');
  if (engine === 'int8') {
    const manifest = await readManifest(location.dir);
    checkModel(location.dir, manifest, opts.expect);
    return Int8VectorIndex.load(location.dir, manifest, {
      verify: opts.verify ?? true,
      threads: opts.threads ?? 0,
      rescore: opts.rescore ?? INT8_DEFAULTS.rescore,
    });
  }
  // flat, or nothing there: the flat loader words the "no index here" message.
  return FlatVectorIndex.load(location.dir, {
    ...(opts.expect ? { expect: opts.expect } : {}),
    ...(opts.verify === undefined ? {} : { verify: opts.verify }),
    ...(opts.threads ? { threads: opts.threads } : {}),
  });
}

export interface OpenWriterOptions {
  engine: EngineName;
  modelId: string;
  dim: number;
  /** Resume an interrupted write of the same inputs (import-npy). */
  resumeKey?: string;
  /** lancedb only: update the published table in place, deleting these ids first. */
  update?: { removeIds: ReadonlySet<string> };
  /** lancedb: rows below which no ANN index is built. */
  annMinRows?: number;
  env?: NodeJS.ProcessEnv;
  logger?: Logger;
}

/** A streamed writer for a new version of the index at `location` (nothing is served until commit). */
export async function openIndexWriter(rawLocation: string, opts: OpenWriterOptions): Promise<IndexWriter> {
  const location = parseIndexLocation(rawLocation);
  if (opts.engine === 'lancedb') {
    return LanceIndexWriter.open(location, {
      modelId: opts.modelId,
      dim: opts.dim,
      mode: opts.update ? 'update' : 'replace',
      ...(opts.update ? { removeIds: opts.update.removeIds } : {}),
      ...(opts.resumeKey ? { resumeKey: opts.resumeKey } : {}),
      ...(opts.annMinRows === undefined ? {} : { annMinRows: opts.annMinRows }),
      ...(opts.env ? { env: opts.env } : {}),
      ...(opts.logger ? { logger: opts.logger } : {}),
    });
  }
  if (location.kind !== 'local') {
    throw new ImageSearchError(
      'usage',
      `The ${opts.engine} engine keeps its index in a local folder; object storage (${location.uri}) needs --engine lancedb.`,
    );
  }
  return LocalIndexWriter.open(location.dir, {
    engine: opts.engine,
    modelId: opts.modelId,
    dim: opts.dim,
    ...(opts.resumeKey ? { resumeKey: opts.resumeKey } : {}),
  });
}

import type { VectorIndex } from '../../core/types.ts';
import type { IndexManifest, StoredEntry } from '../format.ts';

/**
 * The search engines an index can be built for:
 * - `flat`: fp32 matrix in RAM, exact (onnxruntime Gemm). The default; best up to a few 100K rows.
 * - `int8`: int8 codes in RAM (a quarter of the bytes), exact fp32 re-score of a shortlist read from
 *   disk: the same top-k as flat, several times faster, for millions of rows on one machine.
 * - `lancedb`: a Lance dataset with an IVF-PQ index, on local disk or object storage: approximate,
 *   small memory, many stateless replicas over one dataset.
 */
export const ENGINES = ['flat', 'int8', 'lancedb'] as const;
export type EngineName = (typeof ENGINES)[number];

export function isEngineName(v: string): v is EngineName {
  return (ENGINES as readonly string[]).includes(v);
}

/** A loaded index of any engine: the {@link VectorIndex} port plus what the composition root needs. */
export interface LoadedIndex extends VectorIndex {
  readonly engine: EngineName;
  /** Where it was loaded from (a folder or an s3:// URI). */
  readonly location: string;
  /** Hosts the image store may fetch this index's images from. */
  readonly hosts: string[];
  /** The photo folder: entries' relative paths are read from it and may not leave it. */
  readonly imagesRoot: string | undefined;
  /** Entries may name absolute paths (built with `index --allow-absolute-paths`). */
  readonly allowAbsolutePaths: boolean;
  close(): Promise<void>;
}

/** What is recorded about a committed index besides its rows. */
export interface CommitInfo {
  hosts?: readonly string[];
  imagesRoot?: string;
  /** Entries may name absolute paths (`index --allow-absolute-paths`). */
  allowAbsolutePaths?: boolean;
  /** Human-readable origin ("folder …", "npy …"). */
  source?: string;
}

/**
 * A streamed index write. Rows are appended in batches (each row L2-normalised on the way in) and
 * nothing is visible to readers until {@link IndexWriter.commit}: a killed write is never served.
 */
export interface IndexWriter {
  readonly engine: EngineName;
  /** Rows staged by an interrupted run with the same resume key (0 when starting afresh). */
  readonly resumedRows: number;
  /** `vectors` holds entries.length × dim values, row-major; they are normalised in place. */
  append(entries: readonly StoredEntry[], vectors: Float32Array): Promise<void>;
  /** Publishes the rows; returns how many the index now holds. */
  commit(info: CommitInfo): Promise<{ count: number }>;
  /** Drops what was staged (the published index is untouched). */
  discard(): Promise<void>;
}

/** The manifest fields every engine answers from directly. */
type ManifestFacts = Pick<
  IndexManifest,
  'count' | 'dim' | 'modelId' | 'hosts' | 'imagesRoot' | 'allowAbsolutePaths'
>;

/** What every loaded index reads straight from its manifest, written once for all engines. */
export abstract class ManifestBackedIndex<M extends ManifestFacts> {
  constructor(readonly manifest: M) {}

  get size(): number {
    return this.manifest.count;
  }
  get dim(): number {
    return this.manifest.dim;
  }
  get modelId(): string {
    return this.manifest.modelId;
  }
  /** Hosts the image store may fetch this index's images from. */
  get hosts(): string[] {
    return this.manifest.hosts;
  }
  get imagesRoot(): string | undefined {
    return this.manifest.imagesRoot;
  }
  /** Entries may name absolute paths (the index was built with `--allow-absolute-paths`). */
  get allowAbsolutePaths(): boolean {
    return this.manifest.allowAbsolutePaths === true;
  }
}

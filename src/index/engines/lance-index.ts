import type * as lancedb from '@lancedb/lancedb';
import { ImageSearchError } from '../../core/errors.ts';
import type { Hit, IndexEntry, SearchOptions } from '../../core/types.ts';
import type { IndexLocation, ObjectStoreSettings } from '../location.ts';
import { vectorOf } from '../published.ts';
import { checkModel, toIndexEntry } from '../vector-index.ts';
import { connectLance, damaged, type LanceDb, readControl, storeError } from './lance-connect.ts';
import {
  LANCE_DEFAULTS,
  type LanceManifest,
  META_COLUMNS,
  refineFactorFor,
  rowToEntry,
  sqlString,
} from './lance-format.ts';
import { type LoadedIndex, ManifestBackedIndex } from './types.ts';

export interface LanceSearchOptions {
  /** IVF partitions probed per query (IMAGESEARCH_LANCE_NPROBES). */
  nprobes?: number;
  /** Candidates re-ranked exactly = k × refineFactor (IMAGESEARCH_LANCE_REFINE). */
  refineFactor?: number;
}

export interface LanceLoadOptions extends LanceSearchOptions {
  expect?: { modelId: string; dim: number };
  env?: NodeJS.ProcessEnv;
  /** Object-storage settings (Config's); read from `env` when absent. */
  objectStore?: ObjectStoreSettings;
}

/**
 * The ANN engine: a Lance dataset searched through LanceDB (IVF-PQ, cosine), on local disk or
 * object storage. Scores are 1 − LanceDB's cosine distance; with a refine factor the final ranking
 * and scores are exact cosines of the re-ranked candidates, so the junk floor compares like with like.
 *
 * Exclusions ("4 more") over-fetch k + |exclude| and drop the excluded ids, rather than a prefilter
 * `id NOT IN (…)`: a prefilter makes Lance evaluate the predicate over every row before the vector
 * search (a full scan of the id column per query), while over-fetching only widens the limit — and
 * the excluded set is small, capped by the conversation's shown-ids history.
 */
export class LanceVectorIndex extends ManifestBackedIndex<LanceManifest> implements LoadedIndex {
  readonly engine = 'lancedb' as const;

  private constructor(
    private readonly lance: LanceDb,
    private readonly table: lancedb.Table,
    manifest: LanceManifest,
    private readonly params: Required<LanceSearchOptions>,
  ) {
    super(manifest);
  }

  get location(): string {
    return this.lance.location.uri;
  }

  static async open(location: IndexLocation, opts: LanceLoadOptions = {}): Promise<LanceVectorIndex> {
    const lance = await connectLance(location, opts.env, opts.objectStore);
    const control = await readControl(lance);
    if (!control?.published) {
      throw new ImageSearchError(
        'index_missing',
        control?.building
          ? `The LanceDB index at ${location.uri} has not been published yet: a build was interrupted or is still running. Run the same \`npx imagesearch index …\` / \`import-npy\` command again to finish it.`
          : `No index found at ${location.uri}. Build one with \`npx imagesearch index --images DIR --engine lancedb --out ${location.uri}\`, or set IMAGESEARCH_INDEX_DIR.`,
      );
    }
    const manifest = control.published;
    checkModel(location.uri, manifest, opts.expect);
    let table: lancedb.Table;
    try {
      table = await lance.db.openTable(manifest.table);
      await table.checkout(manifest.tableVersion);
    } catch (e) {
      throw storeError(location, lance.variables, lance.secrets, e, `open table ${manifest.table} of`);
    }
    const schema = await table.schema();
    const vector = schema.fields.find((f) => f.name === 'vector');
    const listSize = (vector?.type as { listSize?: number } | undefined)?.listSize;
    if (listSize !== manifest.dim) {
      table.close();
      throw damaged(
        location,
        `its vectors have ${listSize ?? 'no'} dimensions, the manifest says ${manifest.dim}`,
      );
    }
    return new LanceVectorIndex(lance, table, manifest, {
      nprobes: Math.max(1, opts.nprobes ?? LANCE_DEFAULTS.nprobes),
      refineFactor: Math.max(1, opts.refineFactor ?? refineFactorFor(manifest.ann)),
    });
  }

  async search(query: Float32Array, k: number, opts: SearchOptions = {}): Promise<Hit[]> {
    if (query.length !== this.dim) {
      throw new ImageSearchError(
        'internal',
        `Query has ${query.length} dimensions; the index has ${this.dim}.`,
      );
    }
    if (k <= 0 || this.size === 0) return [];
    const exclude = opts.exclude;
    const rows = (await this.vectorQuery(query, k, opts).toArray()) as Record<string, unknown>[];
    const hits: Hit[] = [];
    for (const row of rows) {
      if (hits.length >= k) break;
      const entry = rowToEntry(row);
      if (exclude?.has(entry.id)) continue;
      const hit: Hit = {
        id: entry.id,
        score: 1 - Number(row._distance),
        entry: toIndexEntry(entry),
      };
      // `vector` is a non-nullable column, selected whenever withVectors is set.
      if (opts.withVectors) hit.vector = Float32Array.from(vectorOf(row.vector));
      hits.push(hit);
    }
    return hits;
  }

  /**
   * The query {@link search} sends: cosine distance, k plus the excluded ids (they are dropped after),
   * and on an ANN index the configured nprobes and refine factor.
   */
  private vectorQuery(query: Float32Array, k: number, opts: SearchOptions): lancedb.VectorQuery {
    const q = this.table
      .vectorSearch(query)
      .distanceType('cosine')
      .limit(Math.min(this.size, k + (opts.exclude?.size ?? 0)))
      .select(opts.withVectors ? [...META_COLUMNS, 'vector'] : [...META_COLUMNS]);
    return this.manifest.ann ? q.nprobes(this.params.nprobes).refineFactor(this.params.refineFactor) : q;
  }

  /**
   * LanceDB's own account of the plan {@link search} runs (`explainPlan`): the partitions probed, the
   * candidates re-ranked and the metric, as the native engine received them (tests assert them).
   */
  async explainSearch(query: Float32Array, k: number, opts: SearchOptions = {}): Promise<string> {
    return this.vectorQuery(query, k, opts).explainPlan();
  }

  async getEntry(id: string): Promise<IndexEntry | undefined> {
    const row = await this.byId(id, [...META_COLUMNS]);
    return row ? toIndexEntry(rowToEntry(row)) : undefined;
  }

  async getVector(id: string): Promise<Float32Array | undefined> {
    const row = await this.byId(id, ['vector']);
    return row?.vector ? Float32Array.from(vectorOf(row.vector)) : undefined;
  }

  /** One row by id (a B-tree lookup on `id`). */
  private async byId(id: string, columns: string[]): Promise<Record<string, unknown> | undefined> {
    const rows = (await this.table
      .query()
      .where(`id = ${sqlString(id)}`)
      .select(columns)
      .limit(1)
      .toArray()) as Record<string, unknown>[];
    return rows[0];
  }

  async close(): Promise<void> {
    this.table.close();
    this.lance.db.close();
  }
}

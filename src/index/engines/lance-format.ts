/**
 * How an imagesearch index is laid out in a LanceDB database (a local folder or an s3:// prefix):
 *
 *   imagesearch            control table: one `published` row (the manifest below, as JSON) and,
 *                          while a build runs, one `building` row. Rewritten whole by an atomic
 *                          overwrite commit: it is the commit point, like index.json for flat/int8.
 *   imagesearch-<token>    the rows: id, vector (fixed-size list of float32, L2-normalised), and
 *                          the entry's metadata as columns; an IVF-RQ index on `vector` (cosine)
 *                          and a B-tree on `id`.
 *
 * Readers open the data table at the manifest's `tableVersion`, so rows a build has added but not
 * yet published (a killed or running build) are never served, and replicas agree on one version.
 */
import { createRequire } from 'node:module';
import type * as Arrow from 'apache-arrow';
import { z } from 'zod';
import { INDEX_FORMAT, INDEX_VERSION, MANIFEST_COLUMNS, type StoredEntry } from '../format.ts';

// LanceDB checks `instanceof` against the CommonJS build of apache-arrow it loads itself; ESM
// `import` would give a second copy of every class, so Arrow is loaded the same way here.
export const arrow = createRequire(import.meta.url)('apache-arrow') as typeof Arrow;

export const CONTROL_TABLE = 'imagesearch';
export const DATA_TABLE_PREFIX = 'imagesearch-';

/**
 * A data table's name as LanceDB accepts it. Checked when the control table is read, because
 * LanceDB panics (a native stack trace on stderr) on a name it refuses instead of returning an error.
 */
const tableName = z
  .string()
  .max(200)
  .regex(/^imagesearch-[A-Za-z0-9_.-]+$/, 'is not a valid table name');

/** Search parameters with their defaults (docs/scale.md has the measurements behind them). */
export const LANCE_DEFAULTS = {
  /** IVF partitions probed per query. */
  nprobes: 20,
  /**
   * The top k × refineFactor quantised candidates are re-ranked with exact cosine. Each re-ranked
   * candidate costs a random read of its full vector (~40 µs here), so the factor is what a query
   * costs: 3 suits the 4-bit RaBitQ codes built today (recall@10 0.9985 at 1M), while indexes built
   * with 1-bit RaBitQ or PQ codes (before 2026-11-30) need 30 for ~0.99. See refineFactorFor.
   */
  refineFactor: 3,
  refineFactorCoarse: 30,
  /** Below this many rows no ANN index is built: LanceDB scans them exactly, fast enough. */
  annMinRows: 10_000,
} as const;

/** The default refine factor for an index: coarser codes need more candidates re-ranked. */
export function refineFactorFor(ann: AnnParams | null | undefined): number {
  return ann?.type === 'ivf_rq' && ann.bits >= 4
    ? LANCE_DEFAULTS.refineFactor
    : LANCE_DEFAULTS.refineFactorCoarse;
}

export const annSchema = z.discriminatedUnion('type', [
  /** IVF + RaBitQ (`bits` per dimension): the default; see annParams in lance-writer.ts. */
  z.object({
    type: z.literal('ivf_rq'),
    partitions: z.number().int().positive(),
    bits: z.number().int().positive(),
  }),
  z.object({
    type: z.literal('ivf_pq'),
    partitions: z.number().int().positive(),
    subVectors: z.number().int().positive(),
  }),
]);

export type AnnParams = z.infer<typeof annSchema>;

export const lanceManifestSchema = z.object({
  format: z.literal(INDEX_FORMAT),
  version: z.number().int(),
  engine: z.literal('lancedb'),
  modelId: z.string().min(1),
  dim: z.number().int().positive(),
  count: z.number().int().nonnegative(),
  table: tableName,
  tableVersion: z.number().int().positive(),
  /** The table this one replaced: kept for replicas still serving it, dropped at the next publish. */
  previousTable: tableName.optional(),
  /** The ANN index built over `vector`, if any (small tables are scanned exactly). */
  ann: annSchema.nullable(),
  hosts: z.array(z.string()).default([]),
  imagesRoot: z.string().optional(),
  allowAbsolutePaths: z.boolean().optional(),
  source: z.string().optional(),
  createdAt: z.string(),
  updatedAt: z.string(),
});
export type LanceManifest = z.infer<typeof lanceManifestSchema>;

export const buildingSchema = z.object({
  table: tableName,
  /** What the staged rows were made from (import-npy resumes only the same inputs). */
  key: z.string(),
  modelId: z.string(),
  dim: z.number().int().positive(),
  startedAt: z.string(),
});
export type BuildingState = z.infer<typeof buildingSchema>;

export { INDEX_FORMAT, INDEX_VERSION };

/** Columns besides `vector`, in table order. */
export const META_COLUMNS = [...MANIFEST_COLUMNS, 'fingerprint'] as const;

export function dataSchema(dim: number): Arrow.Schema {
  const { Field, Float32, Float64, FixedSizeList, Schema, Utf8 } = arrow;
  const text = (name: string, nullable = true) => new Field(name, new Utf8(), nullable);
  return new Schema([
    text('id', false),
    new Field('vector', new FixedSizeList(dim, new Field('item', new Float32(), true)), false),
    text('path'),
    text('url'),
    text('page_url'),
    text('credit_name'),
    text('credit_url'),
    text('description'),
    new Field('width', new Float64(), true),
    new Field('height', new Float64(), true),
    text('fingerprint'),
  ]);
}

/**
 * One Arrow record batch from entries + row-major vectors. Built from typed arrays directly
 * (offsets + UTF-8 bytes) rather than `vectorFromArray`, which is several times slower per row.
 * An absent value is a cleared validity bit; no null count is given, so Arrow counts the bitmap.
 */
export function toRecordBatch(
  schema: Arrow.Schema,
  dim: number,
  entries: readonly StoredEntry[],
  vectors: Float32Array,
): Arrow.RecordBatch {
  const n = entries.length;
  const { makeData, Float32, Float64, Struct, RecordBatch } = arrow;
  const vectorType = schema.fields[1]!.type as Arrow.FixedSizeList;
  const child = makeData({ type: new Float32(), length: n * dim, data: vectors.subarray(0, n * dim) });
  const columns = {
    id: utf8(entries.map((e) => e.id)),
    vector: makeData({ type: vectorType, length: n, nullCount: 0, child }),
    path: utf8(entries.map((e) => e.path)),
    url: utf8(entries.map((e) => e.url)),
    page_url: utf8(entries.map((e) => e.pageUrl)),
    credit_name: utf8(entries.map((e) => e.credit?.name)),
    credit_url: utf8(entries.map((e) => e.credit?.url)),
    description: utf8(entries.map((e) => e.description)),
    width: float64(entries.map((e) => e.width)),
    height: float64(entries.map((e) => e.height)),
    fingerprint: utf8(entries.map((e) => e.fingerprint)),
  };
  const children = schema.fields.map((f) => columns[f.name as keyof typeof columns]);
  const data = makeData({ type: new Struct(schema.fields), length: n, nullCount: 0, children });
  return new RecordBatch(schema, data);

  function float64(values: (number | undefined)[]): Arrow.Data<Arrow.Float64> {
    const out = new Float64Array(values.length);
    const valid = new Uint8Array((values.length + 7) >> 3);
    values.forEach((v, i) => {
      if (v !== undefined) {
        out[i] = v;
        valid[i >> 3]! |= 1 << (i & 7);
      }
    });
    return makeData({ type: new Float64(), length: values.length, data: out, nullBitmap: valid });
  }
}

const encoder = new TextEncoder();

function utf8(values: (string | undefined)[]): Arrow.Data<Arrow.Utf8> {
  const { makeData, Utf8 } = arrow;
  const offsets = new Int32Array(values.length + 1);
  const valid = new Uint8Array((values.length + 7) >> 3);
  const parts: Uint8Array[] = [];
  let total = 0;
  values.forEach((v, i) => {
    if (v !== undefined) {
      const bytes = encoder.encode(v);
      parts.push(bytes);
      total += bytes.length;
      valid[i >> 3]! |= 1 << (i & 7);
    }
    offsets[i + 1] = total;
  });
  const data = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    data.set(p, at);
    at += p.length;
  }
  return makeData({
    type: new Utf8(),
    length: values.length,
    valueOffsets: offsets,
    data,
    nullBitmap: valid,
  });
}

/** A table row (as LanceDB returns it) back to a stored entry. */
export function rowToEntry(row: Record<string, unknown>): StoredEntry {
  const s = (k: string) => {
    const v = row[k];
    return typeof v === 'string' && v !== '' ? v : undefined;
  };
  const num = (k: string) => {
    const v = row[k];
    return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
  };
  const entry: StoredEntry = { id: String(row.id) };
  const set = <K extends keyof StoredEntry>(key: K, v: StoredEntry[K] | undefined) => {
    if (v !== undefined) entry[key] = v;
  };
  set('path', s('path'));
  set('url', s('url'));
  set('pageUrl', s('page_url'));
  const creditName = s('credit_name');
  if (creditName) {
    entry.credit = { name: creditName };
    const cu = s('credit_url');
    if (cu) entry.credit.url = cu;
  }
  set('description', s('description'));
  set('width', num('width'));
  set('height', num('height'));
  set('fingerprint', s('fingerprint'));
  return entry;
}

/** A SQL string literal (LanceDB filters are DataFusion SQL): single quotes doubled. */
export function sqlString(v: string): string {
  return `'${v.replaceAll("'", "''")}'`;
}

/**
 * The LanceDB table layout (lance-format.ts): every entry field survives a write and a read through a
 * real local LanceDB table, absent fields are stored as nulls and read back absent, the Arrow schema
 * is what LanceDB stores, and the pure helpers (rowToEntry, sqlString, the manifest
 * schema) hold their contracts.
 */
import type * as Arrow from 'apache-arrow';
import { describe, expect, it } from 'vitest';
import { connectLance, readControl } from '../../src/index/engines/lance-connect.ts';
import {
  buildingSchema,
  dataSchema,
  lanceManifestSchema,
  rowToEntry,
  sqlString,
} from '../../src/index/engines/lance-format.ts';
import type { StoredEntry } from '../../src/index/format.ts';
import { parseIndexLocation } from '../../src/index/location.ts';
import { readPublished } from '../../src/index/published.ts';
import { toIndexEntry } from '../../src/index/vector-index.ts';
import { buildLance, openLance } from '../support/lance-fixture-build.ts';

const full = (n: number): StoredEntry => ({
  id: `full-${n}`,
  path: `photos/${n}.jpg`,
  url: `https://images.example/${n}.jpg`,
  pageUrl: `https://images.example/p/${n}`,
  credit: { name: `Photographer ${n}`, url: `https://images.example/u/${n}` },
  description: `a photo numbered ${n}`,
  width: 640 + n,
  height: 480 + n,
  fingerprint: `${1000 + n}:${2000 + n}`,
});

/**
 * Eleven rows, so the validity bitmaps span two bytes, with absent values before, between and after
 * present ones in every column.
 */
const written: StoredEntry[] = [
  full(0),
  { id: 'only-id' },
  { id: 'credit-name-only', credit: { name: 'Ann' }, width: 1.5 },
  {
    id: 'empty-strings',
    path: '',
    url: '',
    pageUrl: '',
    credit: { name: '', url: 'https://images.example/u/orphan' },
    description: '',
    fingerprint: '',
  },
  {
    id: 'café-東京-🙂',
    description: 'Été à Tōkyō — 東京の夜 🌸',
    credit: { name: 'Zoë Ångström', url: 'https://images.example/u/zoë' },
    path: 'photos/東京/夜.jpg',
  },
  { id: "O'Brien's 'quoted' photo", url: "https://images.example/o'brien.jpg", height: 0 },
  { id: 'page-only', pageUrl: 'https://images.example/p/page-only' },
  { id: 'height-only', height: 300 },
  full(8),
  { id: 'nine' },
  { id: 'ten', fingerprint: 'https://images.example/10.jpg', description: 'ten' },
];

/** What reading back must give: empty strings and a nameless credit are absent. */
const expected: StoredEntry[] = written.map((e) => {
  if (e.id !== 'empty-strings') return e;
  return { id: 'empty-strings' };
});

const dim = 3;
const vectors = new Float32Array(written.flatMap((_, i) => [i + 1, 2, -1]));

function normalised(row: number): number[] {
  const v = [row + 1, 2, -1];
  const norm = Math.hypot(...v);
  return v.map((x) => x / norm);
}

describe('an entry through a LanceDB table', () => {
  it('every field round-trips (fingerprint included) for a rebuild reading the rows back; absent and empty fields come back absent', async () => {
    const dir = await buildLance(written, vectors, dim);
    const published = await readPublished(dir);
    expect(published?.engine).toBe('lancedb');
    const read: StoredEntry[] = [];
    for await (const batch of published!.entries()) read.push(...batch);
    const byId = new Map(read.map((e) => [e.id, e]));
    expect([...byId.keys()].sort()).toEqual(written.map((e) => e.id).sort());
    // toStrictEqual: a key present with `undefined` (e.g. `credit.url`) is not "absent".
    for (const e of expected) expect(byId.get(e.id)).toStrictEqual(e);
  });

  it('the index serves each entry by id, a quoted or unicode id included; a missing id is undefined', async () => {
    const dir = await buildLance(written, vectors, dim);
    const index = await openLance(dir);
    try {
      for (const e of expected) expect(await index.getEntry(e.id)).toStrictEqual(toIndexEntry(e));
      const quoted = written.findIndex((e) => e.id.startsWith("O'Brien"));
      const v = await index.getVector(written[quoted]!.id);
      expect(Array.from(v!)).toEqual(normalised(quoted).map((x) => expect.closeTo(x, 6)));
      for (const missing of ['nope', "O'Brien", "x' OR '1'='1", "only-id'"]) {
        expect(await index.getEntry(missing)).toBeUndefined();
        expect(await index.getVector(missing)).toBeUndefined();
      }
    } finally {
      await index.close();
    }
  });

  it('LanceDB stores the documented schema, with absent values as nulls', async () => {
    const dir = await buildLance(written, vectors, dim);
    const lance = await connectLance(parseIndexLocation(dir));
    const published = (await readControl(lance))!.published!;
    const table = await lance.db.openTable(published.table);
    try {
      const schema = await table.schema();
      const fields = schema.fields.map((f) => [f.name, f.nullable, String(f.type)]);
      expect(fields).toEqual([
        ['id', false, 'Utf8'],
        ['vector', false, expect.stringMatching(/^FixedSizeList\[3\]<Float32>$/)],
        ['path', true, 'Utf8'],
        ['url', true, 'Utf8'],
        ['page_url', true, 'Utf8'],
        ['credit_name', true, 'Utf8'],
        ['credit_url', true, 'Utf8'],
        ['description', true, 'Utf8'],
        ['width', true, 'Float64'],
        ['height', true, 'Float64'],
        ['fingerprint', true, 'Utf8'],
      ]);
      const vector = schema.fields[1]!.type as Arrow.FixedSizeList;
      expect(vector.listSize).toBe(3);
      expect(vector.children.map((c) => [c.name, c.nullable, String(c.type)])).toEqual([
        ['item', true, 'Float32'],
      ]);
      // The schema every batch is built with is the one stored, list item included (Arrow's canonical
      // `item`, nullable), so LanceDB neither rewrites the table's schema nor casts appended batches.
      const layout = (s: Arrow.Schema) =>
        s.fields.map((f) => [
          f.name,
          f.nullable,
          String(f.type),
          ...(f.type.children ?? []).map((c: Arrow.Field) => [c.name, c.nullable, String(c.type)]),
        ]);
      expect(layout(dataSchema(3))).toEqual(layout(schema));

      // A column is null exactly where the entry had no value (an empty string is stored as given).
      const absent = (key: (e: StoredEntry) => unknown) => written.filter((e) => key(e) === undefined).length;
      const nulls = async (column: string) => table.countRows(`${column} IS NULL`);
      expect(await nulls('path')).toBe(absent((e) => e.path));
      expect(await nulls('url')).toBe(absent((e) => e.url));
      expect(await nulls('page_url')).toBe(absent((e) => e.pageUrl));
      expect(await nulls('credit_name')).toBe(absent((e) => e.credit?.name));
      expect(await nulls('credit_url')).toBe(absent((e) => e.credit?.url));
      expect(await nulls('description')).toBe(absent((e) => e.description));
      expect(await nulls('width')).toBe(absent((e) => e.width));
      expect(await nulls('height')).toBe(absent((e) => e.height));
      expect(await nulls('fingerprint')).toBe(absent((e) => e.fingerprint));
      expect(await table.countRows("description = ''")).toBe(1);
    } finally {
      table.close();
      lance.db.close();
    }
  });
});

describe('rowToEntry', () => {
  it('keeps only finite numbers and non-empty strings; the id is always a string', () => {
    expect(
      rowToEntry({
        id: 42,
        path: 7,
        url: null,
        page_url: '',
        credit_name: null,
        credit_url: 'https://images.example/u/x',
        description: undefined,
        width: Number.NaN,
        height: '480',
        fingerprint: 'f',
      }),
    ).toStrictEqual({ id: '42', fingerprint: 'f' });
    expect(rowToEntry({ id: 'a', width: Number.POSITIVE_INFINITY, height: -0.5 })).toStrictEqual({
      id: 'a',
      height: -0.5,
    });
    expect(rowToEntry({ id: 'a', credit_name: 'N', credit_url: '' })).toStrictEqual({
      id: 'a',
      credit: { name: 'N' },
    });
  });
});

describe('sqlString', () => {
  it('quotes a literal with its single quotes doubled', () => {
    expect(sqlString('plain')).toBe("'plain'");
    expect(sqlString("O'Brien's")).toBe("'O''Brien''s'");
    expect(sqlString('')).toBe("''");
  });
});

describe('the control table schemas', () => {
  const good = {
    format: 'imagesearch-index',
    version: 1,
    engine: 'lancedb',
    modelId: 'm',
    dim: 3,
    count: 11,
    table: 'imagesearch-mabc123-0f1e2d',
    tableVersion: 4,
    ann: null,
    createdAt: '2026-12-01T00:00:00.000Z',
    updatedAt: '2026-12-01T00:00:00.000Z',
  };
  const problem = (m: unknown) => {
    const r = lanceManifestSchema.safeParse(m);
    return r.success ? undefined : `${r.error.issues[0]!.path.join('.')}: ${r.error.issues[0]!.message}`;
  };

  it('accepts a manifest as the writer records it, hosts defaulting to none', () => {
    expect(lanceManifestSchema.parse(good).hosts).toEqual([]);
    expect(
      problem({
        ...good,
        previousTable: 'imagesearch-Old_1.2-x',
        ann: { type: 'ivf_rq', partitions: 3, bits: 4 },
      }),
    ).toBe(undefined);
    expect(problem({ ...good, ann: { type: 'ivf_pq', partitions: 3, subVectors: 8 } })).toBe(undefined);
  });

  it('refuses table names LanceDB would panic on, and bad fields', () => {
    for (const table of [
      'imagesearch-../../etc',
      'imagesearch-',
      'imagesearch-a/b',
      'other-table',
      `imagesearch-${'a'.repeat(200)}`,
      'imagesearch-a b',
    ])
      expect(problem({ ...good, table })).toMatch(/^table: /);
    expect(problem({ ...good, table: 'imagesearch-a/b' })).toBe('table: is not a valid table name');
    expect(problem({ ...good, previousTable: 'imagesearch-a/b' })).toBe(
      'previousTable: is not a valid table name',
    );
    expect(problem({ ...good, engine: 'flat' })).toMatch(/^engine: /);
    expect(problem({ ...good, format: 'other' })).toMatch(/^format: /);
    expect(problem({ ...good, modelId: '' })).toMatch(/^modelId: /);
    expect(problem({ ...good, dim: 0 })).toMatch(/^dim: /);
    expect(problem({ ...good, count: -1 })).toMatch(/^count: /);
    expect(problem({ ...good, tableVersion: 0 })).toMatch(/^tableVersion: /);
    expect(problem({ ...good, ann: undefined })).toMatch(/^ann: /);
    expect(problem({ ...good, ann: { type: 'ivf_rq', partitions: 0, bits: 4 } })).toMatch(
      /^ann.partitions: /,
    );
    expect(problem({ ...good, ann: { type: 'ivf_pq', partitions: 2, subVectors: 1.5 } })).toMatch(
      /^ann.subVectors: /,
    );
    expect(problem({ ...good, ann: { type: 'hnsw', partitions: 2 } })).toMatch(/^ann.type: /);
    const building = { table: 'imagesearch-b', key: 'k', modelId: 'm', dim: 3, startedAt: 'now' };
    expect(buildingSchema.safeParse(building).success).toBe(true);
    expect(buildingSchema.safeParse({ ...building, table: 'imagesearch-b;drop' }).success).toBe(false);
    expect(buildingSchema.safeParse({ ...building, dim: 0 }).success).toBe(false);
  });
});

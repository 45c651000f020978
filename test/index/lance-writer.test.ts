/**
 * The LanceDB writer against a real local LanceDB in a temp folder: what a publish writes to the
 * control table (every manifest field, the table chain, the table dropped two generations back), how
 * an update changes the published table in place (deletions in batches, the ANN index extended or
 * rebuilt, a killed update's versions undone), when a staged build is resumed, and when the buffered
 * rows reach the disk. Row counts are small; `annMinRows` is lowered where the ANN branch is needed.
 */
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ImageSearchError } from '../../src/core/errors.ts';
import {
  type ControlState,
  connectLance,
  readControl,
  writeControl,
} from '../../src/index/engines/lance-connect.ts';
import {
  CONTROL_TABLE,
  INDEX_FORMAT,
  INDEX_VERSION,
  type LanceManifest,
} from '../../src/index/engines/lance-format.ts';
import {
  annParams,
  LanceIndexWriter,
  type LanceWriterOptions,
} from '../../src/index/engines/lance-writer.ts';
import { parseIndexLocation } from '../../src/index/location.ts';
import type { Logger } from '../../src/util/logger.ts';
import { tempDir } from '../support/fixtures.ts';
import { rows } from '../support/lance-rows.ts';

const MODEL = 'test-model';

function open(dir: string, opts: Partial<LanceWriterOptions> = {}): Promise<LanceIndexWriter> {
  return LanceIndexWriter.open(parseIndexLocation(dir), { modelId: MODEL, dim: 4, mode: 'replace', ...opts });
}

async function control(dir: string): Promise<ControlState> {
  return (await readControl(await connectLance(parseIndexLocation(dir)))) ?? {};
}

async function published(dir: string): Promise<LanceManifest> {
  const m = (await control(dir)).published;
  if (!m) throw new Error('nothing published');
  return m;
}

async function tableNames(dir: string): Promise<string[]> {
  return (await connectLance(parseIndexLocation(dir))).db.tableNames();
}

/** What the published table holds: its ids, its indices' columns and its current version. */
async function tableFacts(dir: string, name: string) {
  const table = await (await connectLance(parseIndexLocation(dir))).db.openTable(name);
  try {
    const ids = (await table.query().select(['id']).toArray()).map((r) => String(r.id));
    const indices = (await table.listIndices()).map((i) => i.columns.join(','));
    return { ids: ids.sort(), indices: indices.sort(), version: await table.version() };
  } finally {
    table.close();
  }
}

/** One replace build of `n` rows (ids `${prefix}0…`), published. */
async function publish(
  dir: string,
  n: number,
  opts: Partial<LanceWriterOptions> = {},
  prefix = 'r',
): Promise<LanceManifest> {
  const writer = await open(dir, opts);
  const { entries, vectors } = rows(n, opts.dim ?? 4, prefix);
  await writer.append(entries, vectors);
  await writer.commit({});
  return published(dir);
}

async function appendRows(writer: LanceIndexWriter, n: number, dim: number, prefix = 'r'): Promise<void> {
  const { entries, vectors } = rows(n, dim, prefix);
  await writer.append(entries, vectors);
}

/**
 * Writes the buffered rows to the staged table now, as a flush threshold would: how a test stages
 * rows of a build it then abandons ("kills") without appending 64K rows first.
 */
async function stageBuffered(writer: LanceIndexWriter): Promise<void> {
  await (writer as unknown as { flush(): Promise<void> }).flush();
}

function recordingLogger(): { logger: Logger; lines: { fields: unknown; msg: string }[] } {
  const lines: { fields: unknown; msg: string }[] = [];
  const logger = { info: (fields: unknown, msg: string) => lines.push({ fields, msg }) } as unknown as Logger;
  return { logger, lines };
}

describe('a replace build', () => {
  it('publishes every manifest field and leaves only the published row in the control table', async () => {
    const dir = tempDir('imagesearch-lance-writer-');
    const writer = await open(dir);
    const { entries, vectors } = rows(3, 4);
    await writer.append(entries, vectors);
    const { count } = await writer.commit({
      hosts: ['b.example', 'a.example', 'b.example'],
      imagesRoot: '/photos',
      allowAbsolutePaths: true,
      source: 'folder /photos',
    });
    expect(count).toBe(3);
    const state = await control(dir);
    expect(Object.keys(state)).toEqual(['published']);
    const manifest = state.published!;
    const facts = await tableFacts(dir, manifest.table);
    expect(manifest).toEqual({
      format: INDEX_FORMAT,
      version: INDEX_VERSION,
      engine: 'lancedb',
      modelId: MODEL,
      dim: 4,
      count: 3,
      table: expect.stringMatching(/^imagesearch-[0-9a-z]+-[0-9a-f]{6}$/),
      tableVersion: facts.version,
      ann: null,
      hosts: ['a.example', 'b.example'],
      imagesRoot: '/photos',
      allowAbsolutePaths: true,
      source: 'folder /photos',
      createdAt: manifest.updatedAt,
      updatedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
    });
    expect(facts.ids).toEqual(['r0', 'r1', 'r2']);
    // Lookups by id (more like this, exclusions) use a B-tree; no ANN index below annMinRows.
    expect(facts.indices).toEqual(['id']);
  });

  it('records no hosts, images root, source or absolute-path permission it was not given', async () => {
    const dir = tempDir('imagesearch-lance-writer-');
    const writer = await open(dir);
    await appendRows(writer, 2, 4);
    await writer.commit({ imagesRoot: '', source: '', allowAbsolutePaths: false });
    const manifest = await published(dir);
    expect(manifest.hosts).toEqual([]);
    expect(manifest).not.toHaveProperty('imagesRoot');
    expect(manifest).not.toHaveProperty('source');
    expect(manifest).not.toHaveProperty('allowAbsolutePaths');
  });

  it('whose table LanceDB refuses to create is worded with the folder and LanceDB’s reason', async () => {
    const dir = tempDir('imagesearch-lance-writer-');
    const err = (await open(dir, { dim: 0 }).catch((e: unknown) => e)) as ImageSearchError;
    expect(err.userMessage).toBe(`Could not create a table in the LanceDB index in ${dir}.`);
    expect(err.message).toMatch(/dimension must be a positive integer/);
    expect(await control(dir)).toEqual({});
  });

  it('publishes an empty index when no row was appended', async () => {
    const dir = tempDir('imagesearch-lance-writer-');
    const writer = await open(dir);
    expect(await writer.commit({})).toEqual({ count: 0 });
    expect(await published(dir)).toMatchObject({ count: 0, ann: null });
  });

  it('records its staged table in a building row until it publishes, beside the published one', async () => {
    const dir = tempDir('imagesearch-lance-writer-');
    const first = await publish(dir, 2);
    const writer = await open(dir, { modelId: 'other-model', dim: 8 });
    const state = await control(dir);
    expect(state.published).toEqual(first);
    const table = state.building?.table;
    expect(state.building).toEqual({
      table: expect.stringMatching(/^imagesearch-/),
      key: `once-${table}`,
      modelId: 'other-model',
      dim: 8,
      startedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
    });
    expect(table).not.toBe(first.table);
    await writer.commit({});
    expect((await published(dir)).table).toBe(table);
  });

  it('removes the flat/int8 index files of the same folder on publish, and nothing else', async () => {
    const dir = tempDir('imagesearch-lance-writer-');
    const gone = ['index.json', 'vectors-ab12.f32', 'entries-0f.jsonl', 'codes-9c.i8'];
    const kept = [
      'xindex.json',
      'index.json.bak',
      'vectors-zz.f32',
      'entries-ab.jsonl.tmp',
      'codes-.i8',
      'notes.txt',
    ];
    for (const name of [...gone, ...kept]) writeFileSync(path.join(dir, name), 'x');
    await publish(dir, 2);
    const left = readdirSync(dir);
    for (const name of gone) expect(left).not.toContain(name);
    for (const name of kept) expect(left).toContain(name);
  });

  it('keeps createdAt, chains previousTable and drops the table two generations back', async () => {
    const dir = tempDir('imagesearch-lance-writer-');
    const a = await publish(dir, 2, {}, 'a');
    const b = await publish(dir, 2, {}, 'b');
    expect(b.createdAt).toBe(a.createdAt);
    expect(b.previousTable).toBe(a.table);
    expect(await tableNames(dir)).toEqual(expect.arrayContaining([a.table, b.table]));

    const c = await publish(dir, 2, {}, 'c');
    expect(c.createdAt).toBe(a.createdAt);
    expect(c.previousTable).toBe(b.table);
    const names = await tableNames(dir);
    expect(names).not.toContain(a.table);
    expect(names).toEqual(expect.arrayContaining([b.table, c.table]));

    // An update changes the published table in place: the chain and the previous table stay.
    const writer = await open(dir, { mode: 'update' });
    await writer.append([{ id: 'c9' }], new Float32Array([1, 2, 3, 4]));
    await writer.commit({});
    const d = await published(dir);
    expect(d).toMatchObject({ table: c.table, previousTable: b.table, count: 3, createdAt: a.createdAt });
    expect(await tableNames(dir)).toEqual(expect.arrayContaining([b.table, c.table]));
  });

  it('never drops the published table, even when a damaged building row names it', async () => {
    const dir = tempDir('imagesearch-lance-writer-');
    const live = await publish(dir, 2);
    const lance = await connectLance(parseIndexLocation(dir));
    await writeControl(lance, {
      published: live,
      building: { table: live.table, key: 'k', modelId: MODEL, dim: 4, startedAt: live.createdAt },
    });
    const writer = await open(dir, { resumeKey: 'another' });
    expect(await tableNames(dir)).toContain(live.table);
    expect((await control(dir)).building?.table).not.toBe(live.table);
    await writer.discard();
    expect((await tableFacts(dir, live.table)).ids).toEqual(['r0', 'r1']);
  });

  it('normalises only the rows it was given, leaving the rest of the caller’s buffer alone', async () => {
    const dir = tempDir('imagesearch-lance-writer-');
    const writer = await open(dir, { dim: 2 });
    const buffer = new Float32Array([3, 4, 6, 8, 5, 12]);
    await writer.append([{ id: 'a' }, { id: 'b' }], buffer);
    const unit = [expect.closeTo(0.6, 6), expect.closeTo(0.8, 6)];
    expect([...buffer]).toEqual([...unit, ...unit, 5, 12]);
    await writer.commit({});
  });
});

describe('resuming a staged build', () => {
  /** A replace build with resume key `k` that staged (flushed) `n` rows and was then killed. */
  async function interrupted(dir: string, n = 0): Promise<string> {
    const writer = await open(dir, { resumeKey: 'k' });
    if (n > 0) {
      const { entries, vectors } = rows(n, 4);
      await writer.append(entries, vectors);
      await stageBuffered(writer);
    }
    return (await control(dir)).building!.table;
  }

  it('resumes the staged rows only with the same key, model and dim', async () => {
    const dir = tempDir('imagesearch-lance-writer-');
    const staged = await interrupted(dir, 3);
    const { logger, lines } = recordingLogger();
    const again = await open(dir, { resumeKey: 'k', logger });
    expect(again.resumedRows).toBe(3);
    expect((await control(dir)).building?.table).toBe(staged);
    expect(lines).toEqual([
      { fields: { table: staged, rows: 3 }, msg: 'resuming an interrupted LanceDB write' },
    ]);
    await again.append([{ id: 'more' }], new Float32Array([1, 0, 0, 0]));
    expect(await again.commit({})).toEqual({ count: 4 });
  });

  for (const [what, opts] of [
    ['no resume key', {}],
    ['another key', { resumeKey: 'k2' }],
    ['another model', { resumeKey: 'k', modelId: 'other-model' }],
    ['another dim', { resumeKey: 'k', dim: 8 }],
  ] as const) {
    it(`starts afresh with ${what}, dropping the staged table`, async () => {
      const dir = tempDir('imagesearch-lance-writer-');
      const staged = await interrupted(dir, 2);
      const writer = await open(dir, opts);
      expect(writer.resumedRows).toBe(0);
      const building = (await control(dir)).building!;
      expect(building.table).not.toBe(staged);
      expect(await tableNames(dir)).not.toContain(staged);
      await writer.discard();
    });
  }

  it('a staged table that cannot be opened is worded with the folder', async () => {
    const dir = tempDir('imagesearch-lance-writer-');
    const lance = await connectLance(parseIndexLocation(dir));
    await writeControl(lance, {
      building: { table: 'imagesearch-bad', key: 'k', modelId: MODEL, dim: 4, startedAt: 'then' },
    });
    mkdirSync(path.join(dir, 'imagesearch-bad.lance', '_versions'), { recursive: true });
    writeFileSync(path.join(dir, 'imagesearch-bad.lance', '_versions', '1.manifest'), 'garbage');
    await expect(open(dir, { resumeKey: 'k' })).rejects.toMatchObject({
      code: 'index_invalid',
      userMessage: `Could not open the staged table of the LanceDB index in ${dir}.`,
    });
  });

  /** A resumable build of `n` staged rows whose ANN index was built before it was killed. */
  async function killedWhilePublishing(dir: string, n: number): Promise<string> {
    const writer = await open(dir, { dim: 16, resumeKey: 'k' });
    await appendRows(writer, n, 16, 's');
    await stageBuffered(writer);
    const staged = (await control(dir)).building!.table;
    const table = await (await connectLance(parseIndexLocation(dir))).db.openTable(staged);
    const { Index } = await import('@lancedb/lancedb');
    await table.createIndex('vector', {
      config: Index.ivfRq({ distanceType: 'cosine', numPartitions: 2, numBits: 1 }),
    });
    table.close();
    return staged;
  }

  it('a resumed table already given an ANN index gets the index for its size, not the replaced one’s', async () => {
    const dir = tempDir('imagesearch-lance-writer-');
    const before = await publish(dir, 300, { dim: 16, annMinRows: 300 });
    expect(before.ann).toEqual({ type: 'ivf_rq', partitions: 17, bits: 4 });
    const staged = await killedWhilePublishing(dir, 400);
    const resumed = await open(dir, { dim: 16, resumeKey: 'k', annMinRows: 300 });
    expect(resumed.resumedRows).toBe(400);
    await resumed.commit({});
    expect(await published(dir)).toMatchObject({ table: staged, count: 400, ann: annParams(400) });
  });

  it('a resumed table already given an ANN index, below annMinRows, loses it', async () => {
    const dir = tempDir('imagesearch-lance-writer-');
    const staged = await killedWhilePublishing(dir, 200);
    const resumed = await open(dir, { dim: 16, resumeKey: 'k', annMinRows: 300 });
    await resumed.commit({});
    expect(await published(dir)).toMatchObject({ table: staged, count: 200, ann: null });
    expect((await tableFacts(dir, staged)).indices).toEqual(['id']);
  });
});

describe('flushing buffered rows to the staged table', () => {
  async function stagedRows(dir: string, dim: number): Promise<number> {
    const probe = await open(dir, { resumeKey: 'k', dim });
    return probe.resumedRows;
  }

  it('at 65,536 rows', async () => {
    const dir = tempDir('imagesearch-lance-writer-');
    const writer = await open(dir, { resumeKey: 'k', dim: 2 });
    const { entries, vectors } = rows(65_536, 2);
    await writer.append(entries.slice(0, 65_535), vectors.subarray(0, 65_535 * 2));
    expect(await stagedRows(dir, 2)).toBe(0);
    await writer.append(entries.slice(65_535), vectors.subarray(65_535 * 2));
    expect(await stagedRows(dir, 2)).toBe(65_536);
  });

  it('at 64 MB of vectors', async () => {
    const dir = tempDir('imagesearch-lance-writer-');
    const dim = 8192; // 2,048 rows of 32 KB
    const writer = await open(dir, { resumeKey: 'k', dim });
    const { entries, vectors } = rows(2048, dim);
    await writer.append(entries.slice(0, 2047), vectors.subarray(0, 2047 * dim));
    expect(await stagedRows(dir, dim)).toBe(0);
    await writer.append(entries.slice(2047), vectors.subarray(2047 * dim));
    expect(await stagedRows(dir, dim)).toBe(2048);
  });
});

describe('an update', () => {
  it('needs a published index', async () => {
    const dir = tempDir('imagesearch-lance-writer-');
    await expect(open(dir, { mode: 'update' })).rejects.toThrow(
      'LanceIndexWriter: update mode needs a published index',
    );
  });

  it('whose published table is gone is worded with the folder', async () => {
    const dir = tempDir('imagesearch-lance-writer-');
    const live = await publish(dir, 2);
    await (await connectLance(parseIndexLocation(dir))).db.dropTable(live.table);
    const err = await open(dir, { mode: 'update' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ImageSearchError);
    expect(err).toMatchObject({ userMessage: `Could not update the LanceDB index in ${dir}.` });
  });

  it('deletes removeIds in batches and starts from the published version after a killed update', async () => {
    const dir = tempDir('imagesearch-lance-writer-');
    await publish(dir, 1100);
    const removeIds = new Set(Array.from({ length: 1000 }, (_, i) => `r${i}`));
    // Killed: its deletions were committed to the table but never published.
    await open(dir, { mode: 'update', removeIds: new Set(['r1099', 'r1098']) });

    const writer = await open(dir, { mode: 'update', removeIds });
    await writer.append([{ id: 'new' }], new Float32Array([0, 0, 0, 1]));
    expect(await writer.commit({})).toEqual({ count: 101 });
    const manifest = await published(dir);
    const facts = await tableFacts(dir, manifest.table);
    expect(facts.ids).toEqual(['new', ...Array.from({ length: 100 }, (_, i) => `r${1000 + i}`)].sort());
    expect(manifest).toMatchObject({ count: 101, tableVersion: facts.version });
  });

  it('extends the ANN index below 4× the published rows and rebuilds it at 4×', async () => {
    const dir = tempDir('imagesearch-lance-writer-');
    const opts = { dim: 16, annMinRows: 300 };
    const first = await publish(dir, 300, opts);
    expect(first.ann).toEqual({ type: 'ivf_rq', partitions: 17, bits: 4 });
    expect((await tableFacts(dir, first.table)).indices).toEqual(['id', 'vector']);
    const lance = await connectLance(parseIndexLocation(dir));
    const table = await lance.db.openTable(first.table);
    // Searches score by cosine: the index must be built for it (LanceDB's default is L2 and IVF-PQ).
    expect(await table.indexStats('vector_idx')).toMatchObject({
      indexType: 'IVF_RQ',
      distanceType: 'cosine',
    });
    table.close();

    const update = async (add: number, prefix: string, removeIds?: Set<string>) => {
      const { logger, lines } = recordingLogger();
      const writer = await open(dir, {
        ...opts,
        mode: 'update',
        logger,
        ...(removeIds ? { removeIds } : {}),
      });
      if (add > 0) await appendRows(writer, add, 16, prefix);
      await writer.commit({});
      return { manifest: await published(dir), lines };
    };

    // 300 → 1,199 rows (< 4 × 300): the partitions trained on the first 300 take the new rows.
    let step = await update(899, 'a');
    expect(step.manifest).toMatchObject({ count: 1199, ann: first.ann });
    expect(step.lines).toEqual([{ fields: { count: 1199 }, msg: 'extending the ANN index' }]);

    // 1,199 → 4,796 rows (exactly 4 × 1,199): retrained for the new size.
    step = await update(3597, 'b');
    expect(step.manifest).toMatchObject({ count: 4796, ann: annParams(4796) });
    expect(step.lines).toEqual([
      { fields: { count: 4796, ...annParams(4796) }, msg: 'building the ANN index (IVF-RQ, cosine)' },
    ]);
  });

  it('discarded, leaves an interrupted replace’s staged table and building row alone', async () => {
    const dir = tempDir('imagesearch-lance-writer-');
    await publish(dir, 2);
    await open(dir, { resumeKey: 'k' });
    const before = await control(dir);
    const writer = await open(dir, { mode: 'update' });
    await writer.discard();
    expect(await control(dir)).toEqual(before);
    expect(await tableNames(dir)).toContain(before.building!.table);
  });
});

describe('discarding a replace build', () => {
  it('drops its staged table and building row and keeps the published index', async () => {
    const dir = tempDir('imagesearch-lance-writer-');
    const live = await publish(dir, 2);
    const writer = await open(dir);
    const staged = (await control(dir)).building!.table;
    await writer.discard();
    expect(await control(dir)).toEqual({ published: live });
    expect(await tableNames(dir)).not.toContain(staged);
    expect(await tableNames(dir)).toContain(live.table);
  });
});

describe('a publish the store refuses', () => {
  it('at the commit point is worded with the folder, and no file index is removed', async () => {
    const dir = tempDir('imagesearch-lance-writer-');
    const writer = await open(dir);
    await writer.append([{ id: 'a' }], new Float32Array([1, 0, 0, 0]));
    writeFileSync(path.join(dir, 'index.json'), '{}');
    // The control table damaged under the running build: its overwrite (the commit point) fails.
    const controlDir = path.join(dir, `${CONTROL_TABLE}.lance`);
    rmSync(controlDir, { recursive: true });
    mkdirSync(path.join(controlDir, '_versions'), { recursive: true });
    writeFileSync(path.join(controlDir, '_versions', '1.manifest'), 'garbage');
    await expect(writer.commit({})).rejects.toMatchObject({
      code: 'index_invalid',
      userMessage: `Could not write to the LanceDB index in ${dir}.`,
    });
    expect(existsSync(path.join(dir, 'index.json'))).toBe(true);
  });

  it('while writing the staged rows is worded with the folder', async () => {
    const dir = tempDir('imagesearch-lance-writer-');
    const writer = await open(dir);
    await writer.append([{ id: 'a' }], new Float32Array([1, 0, 0, 0]));
    const staged = (await control(dir)).building!.table;
    // The staged table's folder replaced by a file: nothing can be written under it.
    rmSync(path.join(dir, `${staged}.lance`), { recursive: true });
    writeFileSync(path.join(dir, `${staged}.lance`), 'not a folder');
    const err = await writer.commit({}).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ImageSearchError);
    expect(err).toMatchObject({ userMessage: `Could not publish the LanceDB index in ${dir}.` });
  });
});

describe('annParams', () => {
  it('√rows IVF partitions (1 to 4,096) with 4-bit RaBitQ codes', () => {
    expect(annParams(0)).toEqual({ type: 'ivf_rq', partitions: 1, bits: 4 });
    expect(annParams(300)).toEqual({ type: 'ivf_rq', partitions: 17, bits: 4 });
    expect(annParams(1_000_000)).toEqual({ type: 'ivf_rq', partitions: 1000, bits: 4 });
    expect(annParams(100_000_000)).toEqual({ type: 'ivf_rq', partitions: 4096, bits: 4 });
  });
});

/**
 * `import-npy`'s inputs as users give them: the ids CSV in its usual spellings, the manifest's
 * metadata, what a resumed run may reuse, and what it logs. import-npy.test.ts compares every row
 * across batches and a resume; this file covers everything around the rows.
 */
import { readFileSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { mixture } from '../../scripts/bench/clustered.ts';
import type { LanceVectorIndex } from '../../src/index/engines/lance-index.ts';
import { readManifest } from '../../src/index/format.ts';
import { importNpy } from '../../src/index/import-npy.ts';
import { encodeNpy } from '../../src/index/npy.ts';
import { openVectorIndex } from '../../src/index/open.ts';
import { tempDir } from '../support/fixtures.ts';
import { recordingLogger } from '../support/search-service-fakes.ts';

const dim = 8;

/** `rows` features and an ids file holding `idsCsv`, both with a fixed, whole-second mtime. */
function inputs(rows: number, idsCsv: string) {
  const dir = tempDir();
  const features = path.join(dir, 'features.npy');
  const ids = path.join(dir, 'photo_ids.csv');
  writeFileSync(features, encodeNpy(mixture(rows, dim, { seed: 3 }), rows, dim));
  writeFileSync(ids, idsCsv);
  for (const f of [features, ids]) utimesSync(f, 1_700_000_000, 1_700_000_000);
  return { dir, features, ids };
}

/** Fixed-width ids p000, p001, …: rewriting one keeps the file's size. */
const fixedIds = (rows: number, idOf = (i: number) => `p${String(i).padStart(3, '0')}`) =>
  `photo_id\n${Array.from({ length: rows }, (_, i) => idOf(i)).join('\n')}\n`;

/** A signal that reports an abort at its Nth check: the import stops between batches, as when killed. */
function abortAtCheck(n: number): AbortSignal {
  let checks = 0;
  const signal = new AbortController().signal;
  return new Proxy(signal, {
    get(target, prop) {
      if (prop === 'throwIfAborted')
        return () => {
          if (++checks >= n) throw new Error('interrupted');
        };
      const v = Reflect.get(target, prop, target);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
}

async function idsOf(out: string): Promise<string[]> {
  const index = await openVectorIndex(out, { expect: { modelId: 'openai/clip-vit-base-patch32', dim } });
  try {
    const found: string[] = [];
    for (const id of ['a', 'b', 'c', 'p1', 'p2', 'p3', 'x1', 'x2', 'x3', ' a ', '\uFEFFa'])
      if (await index.getEntry(id)) found.push(id);
    return found;
  } finally {
    await index.close();
  }
}

describe('import-npy reads the ids file as spreadsheets write it', () => {
  it('a byte-order mark, an "id" header, blank lines and blanks around ids', async () => {
    const { features, ids } = inputs(3, '\uFEFFid\n  a  \n\nb\n c\n\n');
    const out = tempDir();
    expect(await importNpy({ features, ids, outDir: out })).toMatchObject({ count: 3 });
    expect(await idsOf(out)).toEqual(['a', 'b', 'c']);
  });

  it('photo_id wins over id when a file has both columns', async () => {
    const { features, ids } = inputs(3, 'id,photo_id\nx1,p1\nx2,p2\nx3,p3\n');
    const out = tempDir();
    await importNpy({ features, ids, outDir: out });
    expect(await idsOf(out)).toEqual(['p1', 'p2', 'p3']);
  });

  it('no photo_id or id column, an empty file, or a missing file: refused, naming the file', async () => {
    for (const csv of ['name\na\nb\nc\n', '']) {
      const { features, ids } = inputs(3, csv);
      await expect(importNpy({ features, ids, outDir: tempDir() })).rejects.toMatchObject({
        code: 'usage',
        userMessage: `${ids} needs a header line "photo_id" (or "id").`,
      });
    }
    const { dir, features } = inputs(3, '');
    const missing = path.join(dir, 'nope.csv');
    await expect(importNpy({ features, ids: missing, outDir: tempDir() })).rejects.toMatchObject({
      code: 'usage',
      userMessage: expect.stringMatching(new RegExp(`^Can't read ids from ${missing}: ENOENT`)),
      // The file system's own error stays attached for the logs.
      cause: expect.objectContaining({ code: 'ENOENT', path: missing }),
    });
  });
});

describe('import-npy with a manifest', () => {
  it('counts the kept rows with a URL or path, records the hosts, the images folder and the source', async () => {
    // p0 has a relative path, p1 a URL (and a dropped duplicate row), p2 nothing in the manifest.
    const { dir, features, ids } = inputs(4, 'photo_id\np0\np1\np1\np2\n');
    const manifest = path.join(dir, 'manifest.csv');
    writeFileSync(manifest, 'id,path,url\np0,img/p0.jpg,\np1,,https://images.example/p1.jpg\n');
    const out = tempDir();
    const result = await importNpy({ features, ids, manifest, outDir: out });
    expect(result).toEqual({ count: 3, withMetadata: 2, resumedRows: 0 });
    const written = await readManifest(out);
    expect(written.hosts).toEqual(['images.example']);
    expect(written.imagesRoot).toBe(dir);
    expect(written.source).toBe(`npy ${features} (<f4)`);
  });

  it('without a manifest, no images folder is recorded', async () => {
    const { features, ids } = inputs(2, fixedIds(2));
    const out = tempDir();
    expect(await importNpy({ features, ids, outDir: out })).toEqual({
      count: 2,
      withMetadata: 0,
      resumedRows: 0,
    });
    const written = await readManifest(out);
    expect(written.imagesRoot).toBeUndefined();
    expect(written.hosts).toEqual([]);
  });
});

describe('import-npy resumes only the very same import', () => {
  const rows = 60;
  /** Interrupted after two batches of 10 (20 rows staged). */
  async function interrupted(opts: { features: string; ids: string; outDir: string; modelId?: string }) {
    await expect(importNpy({ ...opts, batchRows: 10, signal: abortAtCheck(3) })).rejects.toThrow(
      'interrupted',
    );
  }

  it('the same inputs resume, logging it; progress is logged only when asked for', async () => {
    const { features, ids } = inputs(rows, fixedIds(rows));
    const outDir = tempDir();
    await interrupted({ features, ids, outDir });
    const { logger, entries } = recordingLogger();
    const result = await importNpy({ features, ids, outDir, batchRows: 10, logger, progress: true });
    expect(result).toEqual({ count: rows, withMetadata: 0, resumedRows: 20 });
    const logged = entries();
    expect(logged).toContainEqual(
      expect.objectContaining({ msg: 'resuming an interrupted import', resumedRows: 20, of: rows }),
    );
    expect(logged).toContainEqual(
      expect.objectContaining({ msg: 'publishing the imported index', rows, engine: 'flat' }),
    );
    const progress = logged.filter((e) => e.task === 'Importing vectors');
    // From 20 of 60 on: the first line is at 30 (50 %), the last at 60.
    expect(progress[0]).toMatchObject({ done: 30, total: rows });
    expect(progress.at(-1)).toMatchObject({ done: rows, total: rows });

    const quiet = recordingLogger();
    await importNpy({ features, ids, outDir: tempDir(), batchRows: 10, logger: quiet.logger });
    expect(quiet.entries().filter((e) => e.task !== undefined)).toEqual([]);
    expect(quiet.entries().map((e) => e.msg)).not.toContain('resuming an interrupted import');
  });

  it.each([
    ['another model', (_f: string, _i: string) => ({ modelId: 'other/model' })],
    [
      'the ids file touched',
      (_f: string, i: string) => {
        utimesSync(i, 1_700_000_100, 1_700_000_100);
        return {};
      },
    ],
    [
      'the features file touched',
      (f: string, _i: string) => {
        utimesSync(f, 1_700_000_100, 1_700_000_100);
        return {};
      },
    ],
    [
      'the ids file grown by a line, same time stamp',
      (_f: string, i: string) => {
        writeFileSync(i, `${readFileSync(i, 'utf8')}\n`);
        utimesSync(i, 1_700_000_000, 1_700_000_000);
        return {};
      },
    ],
  ])('%s: starts afresh', async (_name, change) => {
    const { features, ids } = inputs(rows, fixedIds(rows));
    const outDir = tempDir();
    await interrupted({ features, ids, outDir });
    const extra = change(features, ids);
    expect(await importNpy({ features, ids, outDir, batchRows: 10, ...extra })).toMatchObject({
      count: rows,
      resumedRows: 0,
    });
  });

  it('the same ids at another path: starts afresh', async () => {
    const { dir, features, ids } = inputs(rows, fixedIds(rows));
    const outDir = tempDir();
    await interrupted({ features, ids, outDir });
    const copy = path.join(dir, 'copy.csv');
    writeFileSync(copy, readFileSync(ids));
    utimesSync(copy, 1_700_000_000, 1_700_000_000);
    expect(await importNpy({ features, ids: copy, outDir, batchRows: 10 })).toMatchObject({ resumedRows: 0 });
  });

  it('an ids file edited behind its time stamp: a resume with nothing left to add, or fewer rows than staged', async () => {
    // Rows 20 on become duplicates of p000 (same size, time stamp put back): the 20 staged rows are
    // exactly the rows kept, so the resume adds nothing and publishes them.
    const { features, ids } = inputs(rows, fixedIds(rows));
    const outDir = tempDir();
    await interrupted({ features, ids, outDir });
    writeFileSync(
      ids,
      fixedIds(rows, (i) => (i < 20 ? `p${String(i).padStart(3, '0')}` : 'p000')),
    );
    utimesSync(ids, 1_700_000_000, 1_700_000_000);
    expect(await importNpy({ features, ids, outDir, batchRows: 10 })).toEqual({
      count: 20,
      withMetadata: 0,
      resumedRows: 20,
    });
    // Fewer kept rows than staged: refused rather than publishing rows of another input.
    const again = tempDir();
    writeFileSync(ids, fixedIds(rows));
    utimesSync(ids, 1_700_000_000, 1_700_000_000);
    await interrupted({ features, ids, outDir: again });
    writeFileSync(
      ids,
      fixedIds(rows, (i) => (i < 19 ? `p${String(i).padStart(3, '0')}` : 'p000')),
    );
    utimesSync(ids, 1_700_000_000, 1_700_000_000);
    await expect(importNpy({ features, ids, outDir: again, batchRows: 10 })).rejects.toThrow(
      'staged 20 rows but the input keeps only 19',
    );
  });

  it('a batch size of 0 reads one row at a time; a short last batch reads only the rows left', async () => {
    const { features, ids } = inputs(5, fixedIds(5));
    expect(await importNpy({ features, ids, outDir: tempDir(), batchRows: 0 })).toMatchObject({ count: 5 });
    expect(await importNpy({ features, ids, outDir: tempDir(), batchRows: 2 })).toMatchObject({ count: 5 });
  });

  it('annMinRows reaches LanceDB: an ANN index is built above it, none at the default 10,000', async () => {
    const rows = 1200;
    const { features, ids } = inputs(
      rows,
      fixedIds(rows, (i) => `p${String(i).padStart(4, '0')}`),
    );
    const expectIndex = { expect: { modelId: 'openai/clip-vit-base-patch32', dim } };
    const withAnn = tempDir();
    await importNpy({ features, ids, outDir: withAnn, engine: 'lancedb', annMinRows: 1000 });
    const plain = tempDir();
    await importNpy({ features, ids, outDir: plain, engine: 'lancedb' });
    for (const [out, ann] of [
      [withAnn, true],
      [plain, false],
    ] as const) {
      const index = await openVectorIndex(out, expectIndex);
      try {
        expect((index as LanceVectorIndex).manifest.ann !== null, out).toBe(ann);
      } finally {
        await index.close();
      }
    }
  });
});

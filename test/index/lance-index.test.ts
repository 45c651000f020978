/**
 * LanceVectorIndex on a real local LanceDB: what `open` says when there is nothing to serve (nothing
 * there, a build not yet published, a missing or mismatched data table), and how `search` treats k,
 * exclusions and `withVectors` on a small exactly-scanned table.
 */
import { describe, expect, it } from 'vitest';
import { connectLance, readControl, writeControl } from '../../src/index/engines/lance-connect.ts';
import { LanceIndexWriter } from '../../src/index/engines/lance-writer.ts';
import { parseIndexLocation } from '../../src/index/location.ts';
import { tempDir } from '../support/fixtures.ts';
import { buildLance, openLance } from '../support/lance-fixture-build.ts';

const dim = 2;
/** Five rows at known angles from the query [1, 0]: a (0°), b (30°), c (60°), d (90°), e (180°). */
const deg = [0, 30, 60, 90, 180];
const ids = ['a', 'b', 'c', 'd', 'e'];
const vectors = new Float32Array(
  // Scaled by 3 on the way in: the index must store (and return) unit vectors.
  deg.flatMap((t) => [3 * Math.cos((t * Math.PI) / 180), 3 * Math.sin((t * Math.PI) / 180)]),
);
const query = new Float32Array([1, 0]);

async function fiveRows(): Promise<string> {
  return buildLance(
    ids.map((id) => ({ id, url: `https://images.example/${id}.jpg` })),
    vectors,
    dim,
  );
}

/** Rewrites the published manifest in place (an edited or damaged control table). */
async function editManifest(dir: string, edit: Record<string, unknown>): Promise<void> {
  const lance = await connectLance(parseIndexLocation(dir));
  const control = (await readControl(lance))!;
  await writeControl(lance, { published: { ...control.published!, ...edit } });
  lance.db.close();
}

describe('LanceVectorIndex.open refuses, in words', () => {
  it('a folder with no index: how to build one', async () => {
    const dir = tempDir();
    await expect(openLance(dir)).rejects.toMatchObject({
      code: 'index_missing',
      userMessage: `No index found at ${dir}. Build one with \`npx imagesearch index --images DIR --engine lancedb --out ${dir}\`, or set IMAGESEARCH_INDEX_DIR.`,
    });
  });

  it('a build that has not been published yet: run it again to finish', async () => {
    const dir = tempDir();
    const writer = await LanceIndexWriter.open(parseIndexLocation(dir), {
      modelId: 'm',
      dim,
      mode: 'replace',
    });
    await writer.append([{ id: 'a' }], new Float32Array([1, 0]));
    await expect(openLance(dir)).rejects.toMatchObject({
      code: 'index_missing',
      userMessage: `The LanceDB index at ${dir} has not been published yet: a build was interrupted or is still running. Run the same \`npx imagesearch index …\` / \`import-npy\` command again to finish it.`,
    });
    await writer.discard();
  });

  it('a manifest naming a data table that is gone', async () => {
    const dir = await fiveRows();
    await editManifest(dir, { table: 'imagesearch-gone' });
    const err = await openLance(dir).catch((e: unknown) => e);
    expect(err).toMatchObject({
      code: 'index_invalid',
      userMessage: `Could not open table imagesearch-gone of the LanceDB index in ${dir}.`,
    });
  });

  it('vectors of another size than the manifest says, or none at all', async () => {
    const dir = await fiveRows();
    await editManifest(dir, { dim: 3 });
    await expect(openLance(dir)).rejects.toMatchObject({
      code: 'index_invalid',
      userMessage: expect.stringContaining(
        `The LanceDB index at ${dir} is damaged (its vectors have 2 dimensions, the manifest says 3).`,
      ),
    });

    const lance = await connectLance(parseIndexLocation(dir));
    const table = await lance.db.createTable('imagesearch-novector', [{ id: 'a' }]);
    const tableVersion = await table.version();
    table.close();
    lance.db.close();
    await editManifest(dir, { dim: 2, table: 'imagesearch-novector', tableVersion });
    await expect(openLance(dir)).rejects.toMatchObject({
      code: 'index_invalid',
      userMessage: expect.stringContaining(
        'is damaged (its vectors have no dimensions, the manifest says 2).',
      ),
    });
  });
});

describe('LanceVectorIndex.search', () => {
  it('ranks by cosine; k larger than the index gives every row; k ≤ 0 gives none', async () => {
    const index = await openLance(await fiveRows());
    try {
      const all = await index.search(query, 50);
      expect(all.map((h) => h.id)).toEqual(ids);
      for (const [i, h] of all.entries()) expect(h.score).toBeCloseTo(Math.cos((deg[i]! * Math.PI) / 180), 5);
      expect(all[0]!.entry).toEqual({ id: 'a', url: 'https://images.example/a.jpg' });
      expect(await index.search(query, 0)).toEqual([]);
      expect(await index.search(query, -1)).toEqual([]);
      await expect(index.search(new Float32Array(3), 2)).rejects.toThrow(
        'Query has 3 dimensions; the index has 2.',
      );
    } finally {
      await index.close();
    }
  });

  it('an empty index answers nothing', async () => {
    const dir = await buildLance([], new Float32Array(0), dim);
    const index = await openLance(dir);
    try {
      expect(index.size).toBe(0);
      expect(await index.search(query, 5)).toEqual([]);
    } finally {
      await index.close();
    }
  });

  it('drops excluded ids and still returns k, whether or not the excluded ids are among the nearest', async () => {
    const index = await openLance(await fiveRows());
    try {
      const ex = (...x: string[]) => ({ exclude: new Set(x) });
      expect((await index.search(query, 2, ex('a', 'c'))).map((h) => h.id)).toEqual(['b', 'd']);
      // Excluded ids that are not in the index (or not near) widen the fetch: only k come back.
      expect((await index.search(query, 2, ex('zz', 'yy', 'e'))).map((h) => h.id)).toEqual(['a', 'b']);
      expect((await index.search(query, 3, ex('a', 'b', 'c', 'd', 'e'))).map((h) => h.id)).toEqual([]);
    } finally {
      await index.close();
    }
  });

  it('withVectors returns each hit with its stored, unit-length vector; without, no vector', async () => {
    const index = await openLance(await fiveRows());
    try {
      const hits = await index.search(query, 3, { withVectors: true });
      expect(hits.map((h) => h.id)).toEqual(['a', 'b', 'c']);
      for (const [i, h] of hits.entries()) {
        const t = (deg[i]! * Math.PI) / 180;
        expect(h.vector).toBeInstanceOf(Float32Array);
        expect(Array.from(h.vector!)).toEqual([
          expect.closeTo(Math.cos(t), 6),
          expect.closeTo(Math.sin(t), 6),
        ]);
        expect(h.entry).toEqual({ id: ids[i], url: `https://images.example/${ids[i]}.jpg` });
      }
      for (const h of await index.search(query, 3)) expect('vector' in h).toBe(false);
      expect(Array.from((await index.getVector('b'))!)).toEqual(Array.from(hits[1]!.vector!));
    } finally {
      await index.close();
    }
  });

  it('a closed index serves nothing more', async () => {
    const index = await openLance(await fiveRows());
    await index.close();
    await expect(index.search(query, 2)).rejects.toThrow(/closed/);
    await expect(index.getEntry('a')).rejects.toThrow(/closed/);
  });
});

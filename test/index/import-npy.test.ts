/**
 * `import-npy` across several small batches and a resume, for float16 and float32 features and every
 * engine: every imported row is compared with the file's row (as float32, normalised). The single
 * batch import of index.test.ts cannot see a reader that gets the second batch's offset wrong.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { mixture, normalizeRows } from '../../scripts/bench/clustered.ts';
import { ENGINES } from '../../src/index/engines/types.ts';
import { importNpy } from '../../src/index/import-npy.ts';
import { encodeNpy, NpyRowReader } from '../../src/index/npy.ts';
import { openVectorIndex } from '../../src/index/open.ts';
import { floatToHalfArray, halfToFloat } from '../../src/util/half-float.ts';
import { tempDir } from '../support/fixtures.ts';

const rows = 230;
const dim = 24;

/** Features with a few wide dimensions (CLIP-like), not normalised: the import normalises them. */
function features(): Float32Array {
  const m = mixture(rows, dim, { clusters: 12, sigma: 0.3, seed: 5 });
  for (let o = 0; o < m.length; o += dim) {
    m[o + 2]! *= 8;
    m[o + 11]! *= 3;
  }
  return m;
}

/** Every 17th id repeats an earlier one and every 29th is empty: those rows are dropped. */
const idOf = (i: number) => (i % 29 === 28 ? '' : i % 17 === 16 ? `p${i - 1}` : `p${i}`);

function inputs(dtype: '<f2' | '<f4') {
  const dir = tempDir();
  const raw = features();
  const stored = dtype === '<f2' ? floatToHalfArray(raw) : raw;
  // What the file holds, read back as float32: the reference for every row.
  const expected = dtype === '<f2' ? halfToFloat(stored as Uint16Array) : Float32Array.from(raw);
  writeFileSync(path.join(dir, 'features.npy'), encodeNpy(stored, rows, dim));
  writeFileSync(
    path.join(dir, 'photo_ids.csv'),
    `photo_id\n${Array.from({ length: rows }, (_, i) => idOf(i) || '""').join('\n')}\n`,
  );
  return { dir, expected: normalizeRows(expected, dim) };
}

/** A signal that reports an abort at its Nth check: the import stops between batches, as when killed. */
function abortAtCheck(n: number): AbortSignal {
  const controller = new AbortController();
  let checks = 0;
  return new Proxy(controller.signal, {
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

describe('NpyRowReader', () => {
  it.each(['<f2', '<f4'] as const)(
    'reads every row of a %s file at its own offset, in any batch size',
    async (dtype) => {
      const { dir, expected: normalised } = inputs(dtype);
      const reader = await NpyRowReader.open(path.join(dir, 'features.npy'));
      try {
        expect(reader.header).toMatchObject({ rows, cols: dim, dtype, itemSize: dtype === '<f2' ? 2 : 4 });
        for (const batch of [1, 7, 64, rows]) {
          const all = new Float32Array(rows * dim);
          for (let first = 0; first < rows; first += batch) {
            const n = Math.min(batch, rows - first);
            all.set(await reader.read(first, n), first * dim);
          }
          expect(normalizeRows(all, dim)).toEqual(normalised);
        }
        await expect(reader.read(rows - 1, 2)).rejects.toThrow(/ended before row/);
      } finally {
        await reader.close();
      }
    },
  );
});

describe.each(ENGINES)('import-npy into %s', (engine) => {
  it.each(['<f2', '<f4'] as const)(
    '%s in batches of 23, interrupted and resumed: every row equals the file',
    async (dtype) => {
      const { dir, expected } = inputs(dtype);
      const out = tempDir();
      const opts = {
        features: path.join(dir, 'features.npy'),
        ids: path.join(dir, 'photo_ids.csv'),
        outDir: out,
        engine,
        batchRows: 23,
      };
      // Killed after four batches (92 source rows) were written.
      await expect(importNpy({ ...opts, signal: abortAtCheck(5) })).rejects.toThrow('interrupted');
      // The first row of each non-empty id.
      const firstRow = new Map<string, number>();
      for (let i = 0; i < rows; i++) if (idOf(i) && !firstRow.has(idOf(i))) firstRow.set(idOf(i), i);
      const kept = [...firstRow.values()];
      const result = await importNpy(opts);
      expect(result.count).toBe(kept.length);
      const firstBatchesKept = kept.filter((i) => i < 92).length;
      // flat and int8 stage every batch; LanceDB buffers rows up to a flush size far above 92, so a
      // kill this early leaves nothing staged there and the rerun starts afresh.
      expect(result.resumedRows).toBe(engine === 'lancedb' ? 0 : firstBatchesKept);

      const index = await openVectorIndex(out, { expect: { modelId: 'openai/clip-vit-base-patch32', dim } });
      try {
        expect(index.size).toBe(kept.length);
        for (const i of kept) {
          const v = await index.getVector(idOf(i));
          expect(v, `row ${i}`).toBeDefined();
          for (let d = 0; d < dim; d++)
            expect(v![d], `row ${i} dim ${d}`).toBeCloseTo(expected[i * dim + d]!, 5);
        }
        // A dropped duplicate keeps the first row of its id.
        expect(await index.getVector('p16')).toBeUndefined();
      } finally {
        await index.close();
      }
    },
  );
});

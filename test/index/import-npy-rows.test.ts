/**
 * `import-npy` refuses features that would publish an index that can never load: 0 columns, a
 * non-finite value or an all-zero row. Each refusal is worded and names the row; nothing is published.
 */
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { importNpy } from '../../src/index/import-npy.ts';
import { encodeNpy } from '../../src/index/npy.ts';
import { tempDir } from '../support/fixtures.ts';

function inputs(data: Float32Array, rows: number, cols: number) {
  const dir = tempDir();
  writeFileSync(path.join(dir, 'features.npy'), encodeNpy(data, rows, cols));
  writeFileSync(
    path.join(dir, 'photo_ids.csv'),
    `photo_id\n${Array.from({ length: rows }, (_, i) => `p${i}`).join('\n')}\n`,
  );
  return {
    features: path.join(dir, 'features.npy'),
    ids: path.join(dir, 'photo_ids.csv'),
    outDir: tempDir(),
  };
}

describe('import-npy refuses rows that can never be searched', () => {
  it('0 columns', async () => {
    const opts = inputs(new Float32Array(0), 3, 0);
    await expect(importNpy(opts)).rejects.toMatchObject({
      code: 'usage',
      userMessage: expect.stringMatching(/has 0 columns/),
    });
    expect(existsSync(path.join(opts.outDir, 'index.json'))).toBe(false);
  });

  it('a NaN or infinite value, naming the row and id', async () => {
    for (const bad of [Number.NaN, Number.POSITIVE_INFINITY]) {
      const data = new Float32Array([1, 0, 0, 1, bad, 1]);
      const opts = inputs(data, 3, 2);
      await expect(importNpy(opts)).rejects.toMatchObject({
        code: 'usage',
        userMessage: expect.stringMatching(/row 3 \(id p2\).*not a finite number/),
      });
      expect(existsSync(path.join(opts.outDir, 'index.json'))).toBe(false);
    }
  });

  it('an all-zero row', async () => {
    const opts = inputs(new Float32Array([1, 0, 0, 0, 0, 1]), 3, 2);
    await expect(importNpy(opts)).rejects.toMatchObject({
      code: 'usage',
      userMessage: expect.stringMatching(/row 2 \(id p1\) is all zeros/),
    });
    expect(existsSync(path.join(opts.outDir, 'index.json'))).toBe(false);
  });
});

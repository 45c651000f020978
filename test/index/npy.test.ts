/**
 * The `.npy` reader behind `search --vector` and `import-npy`, against NumPy's format: header
 * versions 1.0 (16-bit length) and 2.0/3.0 (32-bit), 1-D and 2-D shapes, float16/float32 only, C
 * order only, and clear refusals of everything else (the CLI's vector input is a user's file).
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { encodeNpy, NpyRowReader, parseNpy, parseNpyHeader, readNpyVector } from '../../src/index/npy.ts';
import { floatToHalfArray } from '../../src/util/half-float.ts';
import { tempDir } from '../support/fixtures.ts';

/** A `.npy` with any header text and major version (NumPy pads the header to 64 bytes). */
function npy(header: string, data: Uint8Array, major = 1): Buffer {
  const lenBytes = major === 1 ? 2 : 4;
  let h = header;
  const total = 8 + lenBytes + h.length + 1;
  h += `${' '.repeat((64 - (total % 64)) % 64)}\n`;
  const head = Buffer.alloc(8 + lenBytes);
  head.write('\x93NUMPY', 0, 'latin1');
  head[6] = major;
  if (major === 1) head.writeUInt16LE(h.length, 8);
  else head.writeUInt32LE(h.length, 8);
  return Buffer.concat([head, Buffer.from(h, major >= 3 ? 'utf8' : 'latin1'), data]);
}

const bytesOf = (a: Float32Array | Uint16Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
const v = Float32Array.from({ length: 8 }, (_, i) => (i - 3.5) / 4);

function file(data: Buffer): string {
  const f = path.join(tempDir(), 'v.npy');
  writeFileSync(f, data);
  return f;
}

describe('readNpyVector (search --vector)', () => {
  it('reads version 1, 2 and 3 headers, shapes (D,) and (1, D), float32 and float16', async () => {
    for (const major of [1, 2, 3]) {
      const f4 = `{'descr': '<f4', 'fortran_order': False, 'shape': (8,), }`;
      expect(Array.from(await readNpyVector(file(npy(f4, bytesOf(v), major))))).toEqual(Array.from(v));
      const f2 = `{'descr': '<f2', 'fortran_order': False, 'shape': (1, 8), }`;
      // These values are exact in float16.
      expect(Array.from(await readNpyVector(file(npy(f2, bytesOf(floatToHalfArray(v)), major))))).toEqual(
        Array.from(v),
      );
    }
  });

  it('refuses NaN and infinity, in float32 and float16', async () => {
    for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
      const w = Float32Array.from(v);
      w[5] = bad;
      await expect(readNpyVector(file(encodeNpy(w, 1, 8)))).rejects.toThrow(/contains NaN or infinity/);
      await expect(readNpyVector(file(encodeNpy(floatToHalfArray(w), 1, 8)))).rejects.toThrow(
        /contains NaN or infinity/,
      );
    }
  });

  it('refuses zero or several rows, other dtypes, byte orders, Fortran order, 3-D, truncation and a missing file', async () => {
    const header = (descr: string, shape: string, fortran = 'False') =>
      `{'descr': '${descr}', 'fortran_order': ${fortran}, 'shape': ${shape}, }`;
    const cases: [Buffer, RegExp][] = [
      [npy(header('<f4', '(0, 8)'), new Uint8Array(0)), /holds 0 vectors; --vector takes one/],
      [npy(header('<f4', '(3, 8)'), bytesOf(new Float32Array(24))), /holds 3 vectors/],
      [npy(header('>f4', '(8,)'), bytesOf(v)), /dtype >f4 \(expected <f2 or <f4\)/],
      [npy(header('<f8', '(8,)'), bytesOf(new Float32Array(16))), /dtype <f8/],
      [npy(header('<f4', '(8,)', 'True'), bytesOf(v)), /Fortran order is not supported/],
      [npy(header('<f4', '(1, 1, 8)'), bytesOf(v)), /is not 1-D or 2-D/],
      [npy(header('<f4', '()'), bytesOf(v)), /is not 1-D or 2-D/],
      [npy(header('<f4', '(-8,)'), bytesOf(v)), /is not valid/],
      [npy(header('<f4', '(8,)'), bytesOf(v).subarray(0, 31)), /data is truncated/],
      [Buffer.from('NUMPY but not really'), /missing the NUMPY magic/],
      [npy(header('<f4', '(8,)'), bytesOf(v)).subarray(0, 40), /truncated header/],
    ];
    for (const [data, message] of cases) await expect(readNpyVector(file(data))).rejects.toThrow(message);
    await expect(readNpyVector(path.join(tempDir(), 'none.npy'))).rejects.toThrow(/Can't read/);
  });
});

describe('the matrix readers (import-npy)', () => {
  it('take 2-D only, and name the bytes missing from a truncated file', async () => {
    const oneD = npy(`{'descr': '<f4', 'fortran_order': False, 'shape': (8,), }`, bytesOf(v));
    expect(() => parseNpy(oneD)).toThrow(/shape \(8,\) is not 2-D/);
    expect(() => parseNpyHeader(oneD, 'x.npy', { allow1d: true })).not.toThrow();
    const m = Float32Array.from({ length: 24 }, (_, i) => i);
    const short = encodeNpy(m, 3, 8).subarray(0, -4);
    expect(() => parseNpy(short, 'f.npy')).toThrow(
      /f.npy is not a usable .npy file: data has 92 bytes, expected 96/,
    );
    await expect(NpyRowReader.open(file(short))).rejects.toThrow(
      /data has 92 bytes, expected 96 for shape \(3, 8\)/,
    );
    expect(parseNpy(encodeNpy(m, 3, 8))).toEqual({ rows: 3, cols: 8, data: m, dtype: '<f4' });
    // Data may start at any offset: the copy is aligned whatever the header length.
    const v3 = npy(`{'descr': '<f4', 'fortran_order': False, 'shape': (3, 8), }`, bytesOf(m), 3);
    expect(parseNpy(v3).data).toEqual(m);
  });
});

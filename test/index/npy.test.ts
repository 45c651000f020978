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

describe('header layout', () => {
  it('takes any spacing NumPy’s literal reader would, and reads a header without a shape as ()', async () => {
    const tight = npy(`{'descr':'<f4','fortran_order':False,'shape':(8,)}`, bytesOf(v));
    expect(Array.from(await readNpyVector(file(tight)))).toEqual(Array.from(v));
    const loose = npy(`{ 'descr' :  '<f4' , 'fortran_order' :  False , 'shape' :  ( 8 , ) }`, bytesOf(v));
    expect(Array.from(await readNpyVector(file(loose)))).toEqual(Array.from(v));
    const noShape = npy(`{'descr': '<f4', 'fortran_order': False, }`, bytesOf(v));
    await expect(readNpyVector(file(noShape))).rejects.toThrow('shape () is not 1-D or 2-D');
  });

  it('refuses files shorter than a header, and a header that names nothing', async () => {
    const magic = Buffer.from('\x93NUMPY', 'latin1');
    await expect(readNpyVector(file(Buffer.concat([magic, Buffer.from([1, 0])])))).rejects.toThrow(
      /missing the NUMPY magic/,
    );
    // Exactly 10 bytes: magic, version 1.0, a zero header length. A header, but an empty one.
    await expect(readNpyVector(file(Buffer.concat([magic, Buffer.from([1, 0, 0, 0])])))).rejects.toThrow(
      /dtype \? \(expected <f2 or <f4\)/,
    );
  });

  it('encodeNpy pads the header so the data starts on a 64-byte boundary, as NumPy writes it', () => {
    for (const [rows, cols] of [
      [1, 1],
      [3, 8],
      [1000, 512],
      [123_456, 7],
    ] as const) {
      const buf = encodeNpy(new Float32Array(rows * cols), rows, cols);
      const headerEnd = buf.indexOf(0x0a) + 1;
      expect(headerEnd % 64, `${rows}×${cols}`).toBe(0);
      expect(headerEnd).toBe(10 + buf.readUInt16LE(8));
      expect(buf.length - headerEnd).toBe(rows * cols * 4);
      expect(parseNpyHeader(buf, 'x').dataOffset).toBe(headerEnd);
    }
  });

  it('names the file, or features.npy when none is given, and keeps the cause of a failed read', async () => {
    expect(() => parseNpy(Buffer.from('hello'))).toThrow('features.npy is not a usable .npy file');
    const missing = path.join(tempDir(), 'none.npy');
    const reads: (() => Promise<unknown>)[] = [
      () => readNpyVector(missing),
      () => NpyRowReader.open(missing),
    ];
    for (const read of reads) {
      const err = (await read().catch((e: unknown) => e)) as Error & { cause?: unknown };
      expect(err.message).toBe(`Can't read ${missing}.`);
      expect(err.cause).toBeInstanceOf(Error);
    }
  });

  it('a row reader reports where the data ended, and reads nothing once closed', async () => {
    const m = Float32Array.from({ length: 24 }, (_, i) => i);
    const reader = await NpyRowReader.open(file(encodeNpy(m, 3, 8)));
    await expect(reader.read(2, 2)).rejects.toThrow('npy data ended before row 4');
    expect(Array.from(await reader.read(1, 1))).toEqual([8, 9, 10, 11, 12, 13, 14, 15]);
    await reader.close();
    await expect(reader.read(0, 1)).rejects.toThrow();
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

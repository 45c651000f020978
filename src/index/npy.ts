import { readFile } from 'node:fs/promises';
import { ImageSearchError } from '../core/errors.ts';
import { halfToFloat } from '../util/half-float.ts';

export interface NpyMatrix {
  rows: number;
  cols: number;
  /** Row-major float32 (converted from `<f2` when needed). */
  data: Float32Array;
  dtype: '<f2' | '<f4';
}

/**
 * Reads a 2-D little-endian float16/float32 `.npy` (format 1.0/2.0/3.0), as written by
 * `np.save(features)` in the prototype (N × 512, C order).
 */
export async function readNpy(file: string): Promise<NpyMatrix> {
  let buf: Buffer;
  try {
    buf = await readFile(file);
  } catch (e) {
    throw new ImageSearchError('not_found', `Can't read ${file}.`, { cause: e });
  }
  return parseNpy(buf, file);
}

export function parseNpy(buf: Buffer, name = 'features.npy'): NpyMatrix {
  const bad = (why: string) => new ImageSearchError('usage', `${name} is not a usable .npy file: ${why}.`);
  if (buf.length < 10 || buf.subarray(0, 6).toString('latin1') !== '\x93NUMPY')
    throw bad('missing the NUMPY magic');
  const major = buf[6]!;
  const headerLen = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const headerStart = major === 1 ? 10 : 12;
  if (headerStart + headerLen > buf.length) throw bad('truncated header');
  const header = buf.subarray(headerStart, headerStart + headerLen).toString(major >= 3 ? 'utf8' : 'latin1');
  const descr = /'descr'\s*:\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header)?.[1];
  const shape = /'shape'\s*:\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr !== '<f2' && descr !== '<f4') throw bad(`dtype ${descr ?? '?'} (expected <f2 or <f4)`);
  if (fortran !== 'False') throw bad('Fortran order is not supported (save with C order)');
  const dims = (shape ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map(Number);
  if (dims.length !== 2 || dims.some((d) => !Number.isInteger(d) || d < 0))
    throw bad(`shape (${shape}) is not 2-D`);
  const [rows, cols] = dims as [number, number];
  const itemSize = descr === '<f2' ? 2 : 4;
  const dataStart = headerStart + headerLen;
  const expected = rows * cols * itemSize;
  if (buf.length - dataStart < expected)
    throw bad(`data has ${buf.length - dataStart} bytes, expected ${expected}`);
  const raw = buf.subarray(dataStart, dataStart + expected);
  // Copy into aligned arrays (the data offset need not be aligned).
  const aligned = new Uint8Array(expected);
  aligned.set(raw);
  const data =
    descr === '<f2' ? halfToFloat(new Uint16Array(aligned.buffer)) : new Float32Array(aligned.buffer);
  return { rows, cols, data, dtype: descr };
}

/** Writes a C-order `.npy` v1.0 (tests and tools). */
export function encodeNpy(data: Float32Array | Uint16Array, rows: number, cols: number): Buffer {
  const descr = data instanceof Uint16Array ? '<f2' : '<f4';
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${rows}, ${cols}), }`;
  const total = 10 + header.length + 1;
  header += ' '.repeat((64 - (total % 64)) % 64);
  header += '\n';
  const head = Buffer.alloc(10);
  head.write('\x93NUMPY', 0, 'latin1');
  head[6] = 1;
  head[7] = 0;
  head.writeUInt16LE(header.length, 8);
  return Buffer.concat([
    head,
    Buffer.from(header, 'latin1'),
    Buffer.from(data.buffer, data.byteOffset, data.byteLength),
  ]);
}

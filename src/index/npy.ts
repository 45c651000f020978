import { type FileHandle, open, readFile } from 'node:fs/promises';
import { ImageSearchError } from '../core/errors.ts';
import { halfToFloat } from '../util/half-float.ts';

export interface NpyMatrix {
  rows: number;
  cols: number;
  /** Row-major float32 (converted from `<f2` when needed). */
  data: Float32Array;
  dtype: '<f2' | '<f4';
}

/** What a `.npy` header says: shape, dtype and where the data starts. */
export interface NpyHeader {
  /** Rows (1 for a 1-D array). */
  rows: number;
  cols: number;
  /** Dimensions as written: 1 (a vector) or 2 (a matrix). */
  ndim: 1 | 2;
  dtype: '<f2' | '<f4';
  itemSize: 2 | 4;
  dataOffset: number;
}

/** Parses the header from the first bytes of a file (64 KB is plenty for any header). */
export function parseNpyHeader(buf: Buffer, name: string, opts: { allow1d?: boolean } = {}): NpyHeader {
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
  // No shape at all reads as (): refused below as not 2-D, with a message that shows nothing odd.
  const shape = /'shape'\s*:\s*\(([^)]*)\)/.exec(header)?.[1] ?? '';
  if (descr !== '<f2' && descr !== '<f4') throw bad(`dtype ${descr ?? '?'} (expected <f2 or <f4)`);
  if (fortran !== 'False') throw bad('Fortran order is not supported (save with C order)');
  const dims = shape
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean)
    .map(Number);
  if (dims.some((d) => !Number.isInteger(d) || d < 0)) throw bad(`shape (${shape}) is not valid`);
  if (!(dims.length === 2 || (opts.allow1d && dims.length === 1)))
    throw bad(`shape (${shape}) is not ${opts.allow1d ? '1-D or 2-D' : '2-D'}`);
  const [rows, cols] = dims.length === 1 ? [1, dims[0]!] : (dims as [number, number]);
  return {
    rows,
    cols,
    ndim: dims.length as 1 | 2,
    dtype: descr,
    itemSize: descr === '<f2' ? 2 : 4,
    dataOffset: headerStart + headerLen,
  };
}

export function parseNpy(buf: Buffer, name = 'features.npy'): NpyMatrix {
  const h = parseNpyHeader(buf, name);
  const expected = h.rows * h.cols * h.itemSize;
  if (buf.length - h.dataOffset < expected)
    throw new ImageSearchError(
      'usage',
      `${name} is not a usable .npy file: data has ${buf.length - h.dataOffset} bytes, expected ${expected}.`,
    );
  return {
    rows: h.rows,
    cols: h.cols,
    data: toFloat32(buf.subarray(h.dataOffset, h.dataOffset + expected), h),
    dtype: h.dtype,
  };
}

/** Copies into an aligned array (the data offset need not be aligned) and widens float16. */
function toFloat32(raw: Uint8Array, h: Pick<NpyHeader, 'dtype'>): Float32Array {
  const aligned = new Uint8Array(raw.length);
  aligned.set(raw);
  return h.dtype === '<f2' ? halfToFloat(new Uint16Array(aligned.buffer)) : new Float32Array(aligned.buffer);
}

/**
 * A `.npy` matrix read in row batches, so a features file of any size streams through a fixed
 * amount of memory (import-npy of millions of rows).
 */
export class NpyRowReader {
  private constructor(
    private readonly fh: FileHandle,
    readonly header: NpyHeader,
  ) {}

  static async open(file: string): Promise<NpyRowReader> {
    let fh: FileHandle;
    try {
      fh = await open(file, 'r');
    } catch (e) {
      throw new ImageSearchError('not_found', `Can't read ${file}.`, { cause: e });
    }
    try {
      const head = Buffer.alloc(65536);
      const { bytesRead } = await fh.read(head, 0, head.length, 0);
      const header = parseNpyHeader(head.subarray(0, bytesRead), file);
      const size = (await fh.stat()).size;
      const expected = header.rows * header.cols * header.itemSize;
      if (size - header.dataOffset < expected) {
        throw new ImageSearchError(
          'usage',
          `${file} is not a usable .npy file: data has ${size - header.dataOffset} bytes, expected ${expected} for shape (${header.rows}, ${header.cols}).`,
        );
      }
      return new NpyRowReader(fh, header);
    } catch (e) {
      await fh.close();
      throw e;
    }
  }

  /** Rows [first, first + n) as float32, row-major. */
  async read(first: number, n: number): Promise<Float32Array> {
    const { cols, itemSize, dataOffset } = this.header;
    const raw = Buffer.alloc(n * cols * itemSize);
    const { bytesRead } = await this.fh.read(raw, 0, raw.length, dataOffset + first * cols * itemSize);
    if (bytesRead !== raw.length) throw new Error(`npy data ended before row ${first + n}`);
    return toFloat32(raw, this.header);
  }

  async close(): Promise<void> {
    await this.fh.close();
  }
}

/** One embedding from a `.npy` holding a D-vector or a 1×D matrix (search --vector). */
export async function readNpyVector(file: string): Promise<Float32Array> {
  let buf: Buffer;
  try {
    buf = await readFile(file);
  } catch (e) {
    throw new ImageSearchError('not_found', `Can't read ${file}.`, { cause: e });
  }
  const h = parseNpyHeader(buf, file, { allow1d: true });
  if (h.rows !== 1)
    throw new ImageSearchError(
      'usage',
      `${file} holds ${h.rows} vectors; --vector takes one (shape (D,) or (1, D)).`,
    );
  const bytes = h.cols * h.itemSize;
  if (buf.length - h.dataOffset < bytes)
    throw new ImageSearchError('usage', `${file} is not a usable .npy file: data is truncated.`);
  const v = toFloat32(buf.subarray(h.dataOffset, h.dataOffset + bytes), h);
  if (!v.every(Number.isFinite)) throw new ImageSearchError('usage', `${file} contains NaN or infinity.`);
  return v;
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

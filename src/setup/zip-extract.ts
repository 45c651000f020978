/**
 * Extracts selected members of a zip (the Unsplash Lite archive) with yauzl. Only members whose
 * base name matches are written, always by base name into one folder, so a hostile name such as
 * `../../etc/x` can never escape it (yauzl also rejects such names itself). Declared and actual
 * sizes are checked (yauzl) and capped, each member and all together; each member's CRC-32 is
 * checked (yauzl leaves that to its caller), since the archive itself comes with no checksum.
 */
import { createWriteStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { crc32 } from 'node:zlib';
import yauzl from 'yauzl';
import { statOrUndefined } from '../util/fs-atomic.ts';

export interface ExtractOptions {
  zipPath: string;
  outDir: string;
  /** Which members to keep, tested against the base name. */
  match: (baseName: string) => boolean;
  /** Largest member accepted, uncompressed (default 4 GiB). */
  maxEntryBytes?: number;
  /** Most bytes written (or kept from an earlier run) over all members together (default 8 GiB). */
  maxTotalBytes?: number;
  signal?: AbortSignal | undefined;
}

export interface ExtractResult {
  /** Base names written or already present, in archive order. */
  files: string[];
  /** Members that were already extracted with the right size. */
  reused: string[];
}

function openZip(file: string): Promise<yauzl.ZipFile> {
  return new Promise((resolve, reject) => {
    yauzl.open(file, { lazyEntries: true, autoClose: true, validateEntrySizes: true }, (err, zip) => {
      if (err || !zip) reject(err ?? new Error('cannot open zip'));
      else resolve(zip);
    });
  });
}

function openEntry(zip: yauzl.ZipFile, entry: yauzl.Entry): Promise<NodeJS.ReadableStream> {
  return new Promise((resolve, reject) => {
    zip.openReadStream(entry, (err, stream) => {
      if (err || !stream) reject(err ?? new Error('cannot read zip entry'));
      else resolve(stream);
    });
  });
}

/** Names a zip member may have: relative, forward slashes, no `..` segment. */
export function isSafeMemberName(name: string): boolean {
  if (name.startsWith('/') || name.includes('\\') || /^[a-zA-Z]:/.test(name)) return false;
  return !name.split('/').some((seg) => seg === '..');
}

/** Quick integrity check: the central directory can be read. */
export async function isReadableZip(file: string): Promise<boolean> {
  try {
    const zip = await openZip(file);
    zip.close();
    return true;
  } catch {
    return false;
  }
}

/** Passes bytes through while computing their CRC-32. */
class Crc32Check extends Transform {
  value = 0;
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null, data?: Buffer) => void) {
    this.value = crc32(chunk, this.value);
    cb(null, chunk);
  }
}

export async function extractMatching(opts: ExtractOptions): Promise<ExtractResult> {
  const max = opts.maxEntryBytes ?? 4 * 1024 ** 3;
  const maxTotal = opts.maxTotalBytes ?? 8 * 1024 ** 3;
  let total = 0;
  await fs.mkdir(opts.outDir, { recursive: true });
  const zip = await openZip(opts.zipPath);
  const result: ExtractResult = { files: [], reused: [] };
  const seen = new Set<string>();
  try {
    await new Promise<void>((resolve, reject) => {
      const fail = (e: unknown) => {
        zip.close();
        reject(e);
      };
      zip.on('error', fail);
      zip.on('end', () => resolve());
      zip.on('entry', (entry: yauzl.Entry) => {
        void (async () => {
          if (opts.signal?.aborted) throw opts.signal.reason;
          const name = entry.fileName;
          const base = path.posix.basename(name);
          if (name.endsWith('/') || !opts.match(base)) return;
          if (!isSafeMemberName(name)) throw new Error(`unsafe path in archive: ${JSON.stringify(name)}`);
          if (seen.has(base)) throw new Error(`archive has two members named ${base}`);
          seen.add(base);
          if (entry.uncompressedSize > max) {
            throw new Error(`${base} is ${entry.uncompressedSize} bytes, over the ${max}-byte limit`);
          }
          // Declared sizes are what yauzl holds each member to, so their sum bounds what is written.
          total += entry.uncompressedSize;
          if (total > maxTotal) {
            throw new Error(`the archive's members add up to more than the ${maxTotal}-byte total limit`);
          }
          const dest = path.join(opts.outDir, base);
          result.files.push(base);
          const st = await statOrUndefined(dest);
          if (st?.isFile() && st.size === entry.uncompressedSize) {
            result.reused.push(base);
            return;
          }
          const tmp = `${dest}.extracting`;
          // yauzl checks the inflated byte count against the declared size (validateEntrySizes).
          const crc = new Crc32Check();
          try {
            await pipeline(await openEntry(zip, entry), crc, createWriteStream(tmp));
            if (crc.value >>> 0 !== entry.crc32 >>> 0) {
              throw new Error(`${base} is damaged (CRC-32 mismatch); delete the archive and run setup again`);
            }
          } catch (e) {
            await fs.rm(tmp, { force: true });
            throw e;
          }
          await fs.rename(tmp, dest);
        })().then(() => zip.readEntry(), fail);
      });
      zip.readEntry();
    });
  } finally {
    zip.close();
  }
  return result;
}

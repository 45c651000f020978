/**
 * Extracts selected members of a zip (the Unsplash Lite archive) with yauzl. Only members whose
 * base name matches are written, always by base name into one folder, so a hostile name such as
 * `../../etc/x` can never escape it (yauzl also rejects such names itself). Declared and actual
 * sizes are checked and capped.
 */
import { createWriteStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import yauzl from 'yauzl';
import { statOrUndefined } from '../util/fs-atomic.ts';

export interface ExtractOptions {
  zipPath: string;
  outDir: string;
  /** Which members to keep, tested against the base name. */
  match: (baseName: string) => boolean;
  /** Largest member accepted, uncompressed (default 4 GiB). */
  maxEntryBytes?: number;
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

export async function extractMatching(opts: ExtractOptions): Promise<ExtractResult> {
  const max = opts.maxEntryBytes ?? 4 * 1024 ** 3;
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
          const dest = path.join(opts.outDir, base);
          result.files.push(base);
          const st = await statOrUndefined(dest);
          if (st?.isFile() && st.size === entry.uncompressedSize) {
            result.reused.push(base);
            return;
          }
          const tmp = `${dest}.extracting`;
          // yauzl checks the inflated byte count against the declared size (validateEntrySizes).
          await pipeline(await openEntry(zip, entry), createWriteStream(tmp));
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

/**
 * Small file helpers (setup, index, fixture models). Every final file is written to a temporary sibling and renamed into
 * place, so a crash or `kill -9` leaves either the old file or the new one — never half of one.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';

/** Writes `data` to `file` atomically (temp file in the same directory, fsync, rename). */
export async function writeFileAtomic(file: string, data: string | Uint8Array): Promise<void> {
  await fs.mkdir(path.dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  const fh = await fs.open(tmp, 'w');
  try {
    await fh.writeFile(data);
    // Without fsync a power cut after the rename can leave an empty file under the final name.
    await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    await fs.rename(tmp, file);
  } catch (e) {
    await fs.rm(tmp, { force: true });
    throw e;
  }
}

/** `fs.stat`, or undefined when the path does not exist. */
export async function statOrUndefined(file: string): Promise<import('node:fs').Stats | undefined> {
  try {
    return await fs.stat(file);
  } catch (e) {
    if (isErrnoCode(e, 'ENOENT') || isErrnoCode(e, 'ENOTDIR')) return undefined;
    throw e;
  }
}

/** Reads and parses a JSON file; undefined when it is missing or unreadable (e.g. truncated by a crash). */
export async function readJsonOrUndefined(file: string): Promise<unknown> {
  try {
    return JSON.parse(await fs.readFile(file, 'utf8')) as unknown;
  } catch {
    return undefined;
  }
}

/** Hex SHA-256 of a file's contents, streamed. */
export async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 })) {
    hash.update(chunk as Buffer);
  }
  return hash.digest('hex');
}

export function isErrnoCode(e: unknown, code: string): boolean {
  return typeof e === 'object' && e !== null && (e as { code?: unknown }).code === code;
}

/** Removes leftovers of interrupted atomic writes (`*.tmp-*`) in one directory. */
export async function removeStaleTempFiles(dir: string): Promise<number> {
  let names: string[];
  try {
    names = await fs.readdir(dir);
  } catch {
    return 0;
  }
  const stale = names.filter((n) => /\.tmp-\d+-[0-9a-f]+$/.test(n));
  await Promise.all(stale.map((n) => fs.rm(path.join(dir, n), { force: true })));
  return stale.length;
}

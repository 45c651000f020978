/**
 * Where an index's local image may be read from. Index entries are data (a manifest someone wrote, a
 * folder with symlinks in it), and chat users can have any entry opened full size, so a path must
 * not reach outside the photo folder: not by `..`, not by being absolute, not through a symlink.
 * Checked when an index is built and again when a file is served (a symlink can change between).
 * Absolute paths are allowed only where the operator asked for them (`index --allow-absolute-paths`,
 * recorded in index.json).
 */
import { realpath } from 'node:fs/promises';
import path from 'node:path';

/** Why a path was refused; the message names the fix. */
export class PathRefusedError extends Error {
  override readonly name = 'PathRefusedError';
}

export interface ImagePathPolicy {
  /** The photo folder relative paths are read from (the index's `imagesRoot`). */
  root: string | undefined;
  /** Absolute paths were asked for explicitly; they may then point anywhere. */
  allowAbsolute: boolean;
}

/**
 * The absolute file a stored path names, checked by its text alone (no file system access): a
 * relative path must stay inside `root`; an absolute one needs `allowAbsolute`.
 */
export function imagePath(p: string, policy: ImagePathPolicy): string {
  if (p.includes('\0')) throw new PathRefusedError('path contains a NUL byte');
  if (path.isAbsolute(p)) {
    if (!policy.allowAbsolute)
      throw new PathRefusedError('absolute path refused (build the index with --allow-absolute-paths)');
    return path.normalize(p);
  }
  if (policy.root === undefined)
    throw new PathRefusedError('relative path but the index has no image folder');
  const root = path.resolve(policy.root);
  const abs = path.resolve(root, p);
  if (!isInside(root, abs)) throw new PathRefusedError('path leads outside the image folder');
  return abs;
}

/**
 * {@link imagePath}, then the file's real location (symlinks resolved) must still be inside the real
 * root. Rejects with the file system's error (ENOENT…) when the file is missing.
 */
export async function realImagePath(p: string, policy: ImagePathPolicy): Promise<string> {
  const abs = imagePath(p, policy);
  if (path.isAbsolute(p)) return abs;
  const [realRoot, realFile] = await Promise.all([realpath(path.resolve(policy.root ?? '.')), realpath(abs)]);
  if (!isInside(realRoot, realFile))
    throw new PathRefusedError('path leads outside the image folder (through a symlink)');
  return realFile;
}

function isInside(root: string, file: string): boolean {
  const rel = path.relative(root, file);
  return rel !== '' && !rel.startsWith(`..${path.sep}`) && rel !== '..' && !path.isAbsolute(rel);
}

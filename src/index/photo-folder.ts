/**
 * Which local photos the bot may serve is the operator's decision, never an index's alone. An index
 * records the folder its paths are relative to (`imagesRoot`) and whether it holds absolute paths
 * (`allowAbsolutePaths`), but an index may come from elsewhere (docs/security.md): one that named `/`
 * made "open N" serve any image file the process could read. So the index's folder must lie inside
 * the folder the operator allows (IMAGES_DIR, default the data directory, where `setup` puts its
 * photos), and absolute paths need the operator's ALLOW_ABSOLUTE_IMAGE_PATHS too.
 */
import { realpathSync } from 'node:fs';
import path from 'node:path';
import { ImageSearchError } from '../core/errors.ts';

/** What the operator allows (config). */
export interface PhotoFolderGrant {
  /** IMAGES_DIR, or IMAGESEARCH_DATA_DIR when unset: local photos are served from inside it only. */
  allowedDir: string;
  /** ALLOW_ABSOLUTE_IMAGE_PATHS. */
  allowAbsolutePaths: boolean;
}

/** What an index asks for (its manifest). */
export interface PhotoFolderRequest {
  imagesRoot?: string | undefined;
  allowAbsolutePaths?: boolean | undefined;
}

/** The photo folder and absolute-path permission the image store gets. */
export interface PhotoAccess {
  imagesRoot?: string;
  allowAbsolutePaths: boolean;
}

function real(p: string): string {
  try {
    return realpathSync(p);
  } catch {
    return path.resolve(p);
  }
}

function inside(child: string, parent: string): boolean {
  const rel = path.relative(parent, child);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

/**
 * The access an index gets: what it asks for, when the operator allows that much. Throws
 * `config_invalid` naming the setting when it asks for more.
 */
export function photoAccess(grant: PhotoFolderGrant, index: PhotoFolderRequest): PhotoAccess {
  if (index.allowAbsolutePaths && !grant.allowAbsolutePaths) {
    throw new ImageSearchError(
      'config_invalid',
      'This index was built with --allow-absolute-paths: it opens photos anywhere on the disk. ' +
        'Set ALLOW_ABSOLUTE_IMAGE_PATHS=true to serve it, only if you built it or trust it.',
    );
  }
  if (index.imagesRoot !== undefined && !inside(real(index.imagesRoot), real(grant.allowedDir))) {
    throw new ImageSearchError(
      'config_invalid',
      `This index reads photos from ${index.imagesRoot}, outside the folder the bot may serve photos from. ` +
        'Set IMAGES_DIR to that folder (or one above it) to serve it, only if you built it or trust it.',
    );
  }
  return {
    ...(index.imagesRoot !== undefined ? { imagesRoot: index.imagesRoot } : {}),
    allowAbsolutePaths: index.allowAbsolutePaths === true && grant.allowAbsolutePaths,
  };
}

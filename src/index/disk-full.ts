/**
 * A full disk, said in words. Building or importing an index writes a lot (a checkpoint, staged
 * rows, the final files); when the disk fills up, the error used to surface as "something went wrong
 * on our side" while the kept checkpoint went on holding the space without saying so.
 */
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { ImageSearchError } from '../core/errors.ts';

const NO_SPACE = /ENOSPC|no space left on device|os error 28/i;

/** True when `e` (or one of its causes) is the operating system's "no space left on device". */
export function isDiskFull(e: unknown): boolean {
  let cur: unknown = e;
  for (let depth = 0; cur && depth < 6; depth++) {
    const err = cur as { code?: unknown; message?: unknown; cause?: unknown };
    if (err.code === 'ENOSPC' || (typeof err.message === 'string' && NO_SPACE.test(err.message))) return true;
    cur = err.cause;
  }
  return false;
}

/** The unfinished work a build or import keeps in `dir` to resume from (`.build-*`, `.staging-*`). */
function keptWork(dir: string): string[] {
  try {
    return readdirSync(dir)
      .filter((n) => n.startsWith('.build-') || n.startsWith('.staging-'))
      .map((n) => path.join(dir, n));
  } catch {
    return [];
  }
}

/**
 * `e` worded as "disk full" naming `dir` (the folder being written) and any kept work folder in it
 * or in `workDirs`; any other error comes back as it is.
 */
export function diskFullOr(e: unknown, dir: string, workDirs: readonly string[] = []): unknown {
  if (!isDiskFull(e)) return e;
  const kept = [...new Set([...keptWork(dir), ...workDirs.flatMap(keptWork)])];
  const keptText = kept.length
    ? ` The work done so far is kept in ${kept.join(', ')}: running the same command again after freeing space resumes from it; deleting it gives its space back.`
    : '';
  return new ImageSearchError(
    'internal',
    `Disk full: could not write to ${dir}. Free space on the disk that holds it, then run the same command again.${keptText}`,
    { cause: e },
  );
}

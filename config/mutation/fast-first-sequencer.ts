/**
 * The order the mutation run's test files run in: the mutated module's own tests first, then
 * quickest first. Stryker runs only the tests that cover a mutant and stops at the first failure
 * (bail), so a mutant that a quick file kills never waits for a slow one — vitest's own order is the
 * reverse (longest first, to keep parallel workers busy), which is right for `npm test` and wrong
 * here, where one worker runs one mutant at a time.
 *
 * Quickest first alone makes a module's own test file wait behind every quicker file that merely
 * passes through the module: a LanceDB writer mutant ran the `.npy` import and engine files (each
 * quicker than the writer's own, each also writing LanceDB tables, none checking what the writer
 * does) before the file that kills it. Stryker names the mutated file (vitest's `related`), so a
 * file named after it (`lance-writer.ts` → `lance-writer.test.ts`, `engine.ts` →
 * `engine-paths.test.ts`) counts as a fifth of its time. Over the complete run's coverage, that
 * is about a fifth less test-file time than quickest first alone (docs/mutation.md).
 *
 * Durations come from vitest's cache (the dry run fills it); files it has not timed go last, by size.
 */
import { basename, relative } from 'node:path';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

/** How much of its time a module's own test file counts for in the order. */
export const OWN_TESTS_WEIGHT = 1 / 5;

/** `src/index/engines/lance-writer.ts` → `lance-writer`; `test/x/engine-paths.test.ts` → `engine-paths`. */
export function stemOf(file: string): string {
  return basename(file).replace(/(\.test)?\.[cm]?[jt]sx?$/, '');
}

/** A test file named after the module (the same name, or one that starts with it). */
export function isOwnTestFile(testFile: string, mutated: string): boolean {
  return stemOf(testFile).startsWith(stemOf(mutated));
}

export interface TimedFile {
  file: string;
  /** ms, from vitest's cache; undefined when the file has not been timed. */
  duration: number | undefined;
  /** bytes, for the order among untimed files. */
  size: number;
}

/** Timed files by weighted time (own tests at OWN_TESTS_WEIGHT), then untimed ones by size. */
export function mutationOrder<T extends TimedFile>(files: readonly T[], mutated: string | undefined): T[] {
  const key = (f: T): [number, number] => {
    if (f.duration === undefined) return [1, f.size];
    const own = mutated !== undefined && isOwnTestFile(f.file, mutated);
    return [0, own ? f.duration * OWN_TESTS_WEIGHT : f.duration];
  };
  return files
    .map((f) => ({ f, k: key(f) }))
    .sort((a, b) => a.k[0] - b.k[0] || a.k[1] - b.k[1])
    .map(({ f }) => f);
}

export class FastFirstSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const cache = this.ctx.cache;
    // Stryker's vitest runner sets `related` to the one mutated file for a mutant run (to every
    // mutated file for the dry run, where no module's own tests come first).
    const related = this.ctx.config.related;
    const mutated = related?.length === 1 ? related[0] : undefined;
    const timed = files.map((spec) => {
      const key = `${spec.project.name}:${relative(this.ctx.config.root, spec.moduleId)}`;
      return {
        spec,
        file: spec.moduleId,
        duration: cache.getFileTestResults(key)?.duration,
        size: cache.getFileStats(key)?.size ?? 0,
      };
    });
    return mutationOrder(timed, mutated).map(({ spec }) => spec);
  }
}

/**
 * The order the mutation run's test files run in: quickest first. Stryker runs only the tests that
 * cover a mutant and stops at the first failure (bail), so a mutant that a quick file kills never
 * waits for a slow one — vitest's own order is the reverse (longest first, to keep parallel workers
 * busy), which is right for `npm test` and wrong here, where one worker runs one mutant at a time.
 * Durations come from vitest's cache (the dry run fills it); files it has not timed go last, by size.
 */
import { relative } from 'node:path';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

export class FastFirstSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const cache = this.ctx.cache;
    const cost = (spec: TestSpecification): [number, number] => {
      const key = `${spec.project.name}:${relative(this.ctx.config.root, spec.moduleId)}`;
      const timed = cache.getFileTestResults(key)?.duration;
      return timed === undefined ? [1, cache.getFileStats(key)?.size ?? 0] : [0, timed];
    };
    return [...files]
      .map((spec) => ({ spec, cost: cost(spec) }))
      .sort((a, b) => a.cost[0] - b.cost[0] || a.cost[1] - b.cost[1])
      .map(({ spec }) => spec);
  }
}

/**
 * The index engines a test suite runs its behaviour on. Normally every engine, and `undefined` for
 * plain in-memory arrays where a suite offers that too. A mutation run (config/mutation/vitest.config.ts)
 * sets IMAGESEARCH_TEST_ENGINES=memory: the code it mutates is engine-agnostic, and running every
 * conversation test four times per mutant cost most of the run's time.
 */
import { ENGINES, type EngineName } from '../../src/index/engines/types.ts';

export function testEngines(): Array<EngineName | undefined> {
  const only = process.env.IMAGESEARCH_TEST_ENGINES;
  if (only === 'memory') return [undefined];
  return [undefined, ...ENGINES];
}

/**
 * One module at a time (docs/mutation.md): the mutation test set narrowed to the files named in
 * MUTATION_TESTS (comma-separated globs), so a scoped Stryker run's dry run takes seconds, not minutes.
 */
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';
import base from './vitest.config.ts';

const tests = (process.env.MUTATION_TESTS ?? '')
  .split(',')
  .map((t) => t.trim())
  .filter(Boolean);
if (tests.length === 0)
  throw new Error('Set MUTATION_TESTS to the test files of the module (comma-separated).');

export default defineConfig({
  ...base,
  root: fileURLToPath(new URL('../..', import.meta.url)),
  test: { ...base.test, include: tests },
});

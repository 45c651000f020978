/**
 * The tests Stryker runs against each mutant (`npm run mutation`): the suites that exercise the
 * mutated modules (see config/mutation/stryker.config.mjs), without the slow end-to-end ones (load, fuzz, docker,
 * browser, CLI and setup runs in child processes, whose coverage Stryker cannot see anyway).
 * Globs name folders, so tests that move with the code stay included.
 */
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';
import base from '../../vitest.config.ts';
import { FastFirstSequencer } from './fast-first-sequencer.ts';

// Spread, not mergeConfig: mergeConfig would append these lists to the base `include`.
export default defineConfig({
  ...base,
  // Run from the repository root, whichever folder this file lives in.
  root: fileURLToPath(new URL('../..', import.meta.url)),
  test: {
    ...base.test,
    include: [
      'test/rerank/**/*.test.ts',
      'test/clip/**/*.test.ts',
      'test/core/**/*.test.ts',
      'test/search/**/*.test.ts',
      'test/conversation/**/*.test.ts',
      'test/state/**/*.test.ts',
      'test/slack/**/*.test.ts',
      'test/discord/**/*.test.ts',
      'test/kit/**/*.test.ts',
      'test/util/query-text.test.ts',
      'test/util/log-scrub.test.ts',
      'test/util/locks.test.ts',
      'test/production/secrets.test.ts',
      'test/production/observability.test.ts',
      'test/index/**/*.test.ts',
      'test/eval/**/*.test.ts',
      'test/config/**/*.test.ts',
      'test/util/trust-proxy.test.ts',
      'test/web/request-guards.test.ts',
      'test/web/client-limits.test.ts',
    ],
    // The conversation and pipeline suites once, on in-memory arrays, not once per index engine: the
    // mutated code is engine-agnostic (test/support/engines.ts).
    env: { ...base.test?.env, IMAGESEARCH_TEST_ENGINES: 'memory' },
    // A mutant that leaves a promise pending (a reply never sent, a deadline never hit) fails its
    // test at 15 s (the slowest test in the set takes ~5.5 s), shown as "Test timed
    // out" and killed. Without it the test waits out the base config's 60 s and Stryker cuts it
    // first, at 1.5 × its tests' time + timeoutMS + the dry run's whole overhead (~47 s: every
    // file's imports, although a mutant run loads ~5 files), then restarts the runner: ~58 s each.
    // In the complete run of 2026-12-07, 10 of its 16 cut mutants were such hangs.
    testTimeout: 15_000,
    hookTimeout: 30_000,
    // The mutated module's own tests, then quickest covering file first: with bail, a mutant a quick
    // test kills never waits for a slow one (config/mutation/fast-first-sequencer.ts).
    sequence: { ...base.test?.sequence, sequencer: FastFirstSequencer },
    // Child processes and timing benchmarks: no coverage for Stryker, minutes of wall time. The
    // misconfigured object store waits out LanceDB's connection retries (~30 s a run): in the first
    // complete run over the extended scope it ran against 51 mutants, 27 of the run's 59 minutes;
    // test/index/lance-connect.test.ts words every reason without the wait.
    exclude: [
      'test/slack/ack-bench.test.ts',
      'test/discord/sharding.test.ts',
      'test/clip/providers.test.ts',
      'test/index/object-storage-errors.test.ts',
    ],
  },
});

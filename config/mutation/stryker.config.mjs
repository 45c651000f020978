// @ts-check
/**
 * Mutation testing (`npm run mutation`): Stryker mutates the modules where a silent bug hurts
 * users most and runs the tests that cover each mutant (config/mutation/vitest.config.ts). Reruns are
 * incremental: only mutants in changed code, or covered by changed tests, run again. Stryker runs
 * from the repository root, so every path here is relative to it.
 *
 * Scores per module: `npm run mutation:scores`.
 */

/** Files to mutate (globs; `!` excludes). */
export const MUTATE = [
  // Gemini: reading and validating the answer.
  'src/rerank/response.ts',
  // CLIP: image preprocessing, tokenizer wrapper and the query normaliser in front of it.
  'src/clip/preprocess.ts',
  'src/clip/tokenizer.ts',
  'src/util/query-text.ts',
  // Search pipeline: CLIP top-k, Gemini's pick, near-duplicates, the query-language check.
  'src/search/**/*.ts',
  // Conversation engine, its search steps and message parsing.
  'src/conversation/engine.ts',
  'src/conversation/search-steps.ts',
  'src/conversation/parse-message.ts',
  // Dedupe / idempotency: the shared store's dedupe, the reply cache, in-flight joins.
  'src/state/dedupe.ts',
  'src/conversation/idempotency.ts',
  'adapters/kit/in-flight.ts',
  // Rate limits.
  'src/state/rate-limit.ts',
  // Delivery: Slack replies and blocks, Discord rendering.
  'adapters/slack/replies.ts',
  'adapters/slack/blocks.ts',
  'adapters/discord/render.ts',
  // Log scrubbing.
  'src/util/log-scrub.ts',
  // Index engines and the readers that feed them: a wrong scale, offset or shortlist silently
  // returns other photos.
  'src/index/engines/*.ts',
  'src/index/npy.ts',
  'src/index/import-npy.ts',
  // Settings readers: the configuration schema (object storage's AWS precedence included), index
  // locations, and the client address behind proxies.
  'src/util/config.ts',
  'src/index/location.ts',
  'src/util/trust-proxy.ts',
  // Retrieval metrics (`imagesearch eval`): a wrong metric misjudges every change it measures.
  'src/eval/*.ts',
  // Atomic rate-limit and dedupe steps in SQLite and Redis.
  'src/state/*-atomic.ts',
  // The web chat's request guards (origin, host, size).
  'adapters/web/request-guards.ts',
];

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
const config = {
  packageManager: 'npm',
  testRunner: 'vitest',
  vitest: { configFile: 'config/mutation/vitest.config.ts' },
  checkers: ['typescript'],
  // The checker recompiles the program for every mutant (group), so the program is only the mutated
  // files and what they import (config/mutation/tsconfig.json's include is MUTATE; a test keeps them equal):
  // on Gemini answer parsing alone that took the run from ~10 to ~5 minutes against src + adapters.
  // Whether a mutant compiles is decided by the modules it lives in and their imports anyway.
  tsconfigFile: 'config/mutation/tsconfig.json',
  typescriptChecker: { prioritizePerformanceOverAccuracy: true },
  // Each check builds a fresh type checker, which merges every global declaration first: the mutated
  // code never touches the DOM, so config/mutation/tsconfig.json leaves lib.dom out (~20 % per check).
  // scripts/mutation/checker-preload.mjs removes the rest of the fixed cost per check: the watch
  // builder's 250 ms debounce, and the re-parse of all ~1,150 files of the program on every rebuild
  // (parsed files are reused until their text changes). Measured with Stryker's own compiler class on
  // 120 mutants: 1.9 s -> 0.28 s per check, the same diagnostics for every mutant.
  checkerNodeArgs: ['--import', new URL('../../scripts/mutation/checker-preload.mjs', import.meta.url).href],
  mutate: MUTATE,
  // Under strictNullChecks, `a?.b` → `a.b` on a value that may be undefined does not compile: all 67
  // such mutants of the complete run over this scope were compile errors, each a type check for nothing.
  mutator: { excludedMutations: ['OptionalChaining'] },
  // Only the tests that cover a mutant run against it.
  coverageAnalysis: 'perTest',
  // Static mutants (module-level constants: schemas, default tables) must run EVERY covering test,
  // not just the ones that hit them; over this scope that alone would break the 30-minute budget.
  // The CI subset (config/mutation/stryker.ci.config.mjs) keeps them: its tests are quick, and constants such as
  // the CLIP mean are exactly what it guards.
  ignoreStatic: true,
  // Two cores: one test-runner process per core.
  concurrency: 2,
  incremental: true,
  incrementalFile: 'reports/mutation/stryker-incremental.json',
  reporters: ['clear-text', 'progress', 'json', 'html'],
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  htmlReporter: { fileName: 'reports/mutation/mutation.html' },
  clearTextReporter: { allowColor: false, logTests: false, reportMutants: false },
  // The first, instrumented run of every covering test (perTest coverage) on a loaded 2-core machine.
  dryRunTimeoutMinutes: 20,
  // A hung mutant (an endless loop) is cut after 1.5 × its tests' own time, plus this, plus the dry
  // run's whole overhead (~47 s, not configurable). Each cut also restarts the test runner. A test
  // merely left pending fails sooner, at the mutation vitest config's 15 s test timeout.
  timeoutMS: 3_000,
  tempDirName: '.stryker-tmp',
  cleanTempDir: 'always',
  thresholds: { high: 80, low: 60, break: null },
};
export default config;

// @ts-check
/**
 * The fast subset CI runs (`npm run mutation:ci`): Gemini answer parsing and CLIP preprocessing,
 * whose tests are quick and whose bugs are silent. `thresholds.break` fails the run if the score
 * drops below what these modules reach today (see README, "Mutation testing").
 */
import base from './stryker.config.mjs';

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  ...base,
  mutate: ['src/rerank/response.ts', 'src/clip/preprocess.ts'],
  vitest: { configFile: 'vitest.mutation-ci.config.ts' },
  ignoreStatic: false,
  incrementalFile: 'reports/mutation-ci/stryker-incremental.json',
  jsonReporter: { fileName: 'reports/mutation-ci/mutation.json' },
  htmlReporter: { fileName: 'reports/mutation-ci/mutation.html' },
  // Measured 84.9 % before the last tests for survivors were added; the run fails below 85 %.
  thresholds: { high: 90, low: 85, break: 85 },
};

/**
 * The tests `npm run mutation:ci` runs against each mutant of the Gemini answer parser and CLIP
 * preprocessing: their own unit tests only (a few seconds for all of them). The reranker's
 * HTTP tests cover the same code but take ~25 s together; a static mutant (a module-level constant,
 * such as the CLIP mean) must run every covering test, so with them the subset took over 40 minutes
 * on a loaded 2-core machine. `npm run mutation` still runs them all.
 */
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';
import base from '../../vitest.config.ts';

// Spread, not mergeConfig: mergeConfig would append these lists to the base `include`.
export default defineConfig({
  ...base,
  // Run from the repository root, whichever folder this file lives in.
  root: fileURLToPath(new URL('../..', import.meta.url)),
  test: {
    ...base.test,
    include: ['test/rerank/response.test.ts', 'test/clip/preprocess*.test.ts'],
  },
});

// Loaded into Stryker's TypeScript checker process (config/mutation/stryker.config.mjs `checkerNodeArgs`). Two
// speed-ups for the way the checker drives TypeScript, neither of which changes a diagnostic
// (test/tooling/mutation-checker.test.ts compares them with plain TypeScript):
//
// 1. The checker type-checks each mutant through TypeScript's watch-mode solution builder: it writes
//    the mutant into an in-memory file, and the builder rebuilds on a timer 250 ms after the change,
//    a debounce meant for editors saving files. Stryker writes all of a check's mutants synchronously
//    before it waits, so the rebuild can fire at once.
// 2. The solution builder re-reads and re-parses every file of the program on every rebuild
//    (its source-file cache lives for one build only): ~1,150 files, 1,100 of them node_modules
//    typings, for a one-line mutant. typescript-cached.mjs keeps each parsed file until its text
//    changes, as TypeScript's own `tsc --watch` does; checker-hooks.mjs hands that module to the
//    checker in place of `typescript`.
import { createRequire, register } from 'node:module';

const ts = createRequire(import.meta.url)('typescript');
const setTimeoutLater = ts.sys.setTimeout;
if (setTimeoutLater) {
  ts.sys.setTimeout = (callback, _ms, ...args) => setTimeoutLater(callback, 0, ...args);
}

register('./checker-hooks.mjs', import.meta.url);

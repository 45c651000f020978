// TypeScript, as Stryker's checker sees it (see checker-preload.mjs): the same module, except that
// the builder programs the checker creates reuse a parsed source file for as long as its text is
// unchanged. A mutated file has new text and is parsed again; so is the original when the mutant is
// reverted. Reusing a SourceFile across programs is what TypeScript's own watch mode and language
// service do; the program then also keeps its binding, so a rebuild binds and checks only what the
// mutant touched.
import { createRequire } from 'node:module';

const ts = createRequire(import.meta.url)('typescript');

/** Parsed files per compiler host: file name -> { key, text, file }. */
const parsedByHost = new WeakMap();
const CACHING = Symbol('imagesearch.cachedGetSourceFile');

/** Counters for the test that proves the cache is used (test/tooling/mutation-checker.test.ts). */
export const stats = { reused: 0, parsed: 0 };

/**
 * Wraps the host's `getSourceFile`. The solution builder swaps its own per-build cache in and out
 * of that slot around every build, and calls the program factory in between, so this runs on every
 * program creation and wraps whatever is in the slot then.
 */
function cacheSourceFiles(host) {
  if (!host || host.getSourceFile[CACHING]) return;
  let parsed = parsedByHost.get(host);
  if (!parsed) {
    parsed = new Map();
    parsedByHost.set(host, parsed);
  }
  const parse = host.getSourceFile.bind(host);
  const getSourceFile = (fileName, options, onError, shouldCreateNewSourceFile) => {
    const text = host.readFile(fileName);
    const key =
      typeof options === 'object'
        ? `${options.languageVersion}:${options.impliedNodeFormat}`
        : String(options);
    const hit = parsed.get(fileName);
    if (!shouldCreateNewSourceFile && hit && hit.key === key && hit.text === text) {
      stats.reused++;
      return hit.file;
    }
    stats.parsed++;
    const file = parse(fileName, options, onError, shouldCreateNewSourceFile);
    if (file && text !== undefined) parsed.set(fileName, { key, text, file });
    return file;
  };
  getSourceFile[CACHING] = true;
  host.getSourceFile = getSourceFile;
}

// TypeScript's exports are getters, so the override is an own property on an object that inherits
// everything else.
const cachedTs = Object.create(ts, {
  createEmitAndSemanticDiagnosticsBuilderProgram: {
    value(rootNames, options, host, ...rest) {
      cacheSourceFiles(host);
      return ts.createEmitAndSemanticDiagnosticsBuilderProgram(rootNames, options, host, ...rest);
    },
  },
});

export default cachedTs;

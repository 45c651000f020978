// Child process for test/tooling/mutation-checker.test.ts: drives Stryker's own TypeScript compiler
// class (what its checker runs) over the project in argv[2], checks each mutant of argv[3] (JSON)
// in turn, and prints the diagnostics it reports per mutant and how often a source file was reused.
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const checker = path.join(root, 'node_modules/@stryker-mutator/typescript-checker/dist/src');
const { TypescriptCompiler } = await import(path.join(checker, 'typescript-compiler.js'));
const { HybridFileSystem } = await import(path.join(checker, 'fs/hybrid-file-system.js'));
const { stats } = await import(path.join(root, 'scripts/mutation/typescript-cached.mjs'));
const ts = createRequire(import.meta.url)('typescript');

const [project, mutantsJson] = process.argv.slice(2);
process.chdir(project);
const quiet = () => {};
const log = { debug: quiet, trace: quiet, info: quiet, warn: console.warn, error: console.error };
Object.assign(log, { isDebugEnabled: () => false, isTraceEnabled: () => false });
const compiler = new TypescriptCompiler(
  log,
  { tsconfigFile: 'tsconfig.json', typescriptChecker: {} },
  new HybridFileSystem(log),
);
const initErrors = await compiler.init();
const results = [];
for (const mutant of JSON.parse(mutantsJson)) {
  const errors = await compiler.check([{ ...mutant, fileName: path.resolve(mutant.fileName) }]);
  results.push(
    errors.map(
      (e) =>
        `${path.basename(e.file.fileName)} TS${e.code}: ${ts.flattenDiagnosticMessageText(e.messageText, ' ')}`,
    ),
  );
}
console.log(JSON.stringify({ initErrors: initErrors.length, results, reused: stats.reused }));

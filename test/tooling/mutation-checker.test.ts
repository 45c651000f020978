/**
 * scripts/mutation/checker-preload.mjs makes Stryker's TypeScript checker reuse parsed source files
 * between mutants (6-7x faster per check). Speed must not change a verdict: Stryker's own compiler
 * class, run with and without the preload over the same mutants, must report the same diagnostics,
 * and the preload must really be in use (files reused), or the test proves nothing.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../support/fixtures.ts';

const run = promisify(execFile);
const project = mkdtempSync(path.join(tmpdir(), 'imagesearch-checker-'));
afterAll(() => rmSync(project, { recursive: true, force: true }));

writeFileSync(
  path.join(project, 'tsconfig.json'),
  JSON.stringify({
    compilerOptions: {
      strict: true,
      noEmit: true,
      target: 'ES2022',
      module: 'NodeNext',
      lib: ['ES2023'],
      types: [],
    },
    include: ['*.ts'],
  }),
);
const sources: Record<string, string> = {
  'limits.ts': 'export function limit(n: number): number {\n  return Math.min(n, 10);\n}\n',
  'use.ts': [
    "import { limit } from './limits.js';",
    'export const shown: number = limit(4);',
    "export const label = 'top ' + String(shown);",
    '',
  ].join('\n'),
};
for (const [name, text] of Object.entries(sources)) writeFileSync(path.join(project, name), text);

/** A Stryker mutant replacing `original` on `line` (0-based line and columns, as its checker receives them). */
function mutant(fileName: string, line: number, original: string, replacement: string) {
  const column = sources[fileName]!.split('\n')[line]!.indexOf(original);
  if (column < 0) throw new Error(`${original} is not on line ${line} of ${fileName}`);
  const location = { start: { line, column }, end: { line, column: column + original.length } };
  return { id: `${fileName}:${line}:${column}`, fileName, replacement, location };
}
const mutants = [
  mutant('limits.ts', 1, 'Math.min(n, 10)', '"ten"'), // returns a string: TS2322 in limits.ts
  mutant('limits.ts', 1, 'Math.min(n, 10)', 'Math.max(n, 10)'), // compiles
  mutant('use.ts', 2, "'top ' + String(shown)", 'shown - 1'), // `label` becomes a number: compiles
  mutant('limits.ts', 0, 'n: number', 'n: string'), // the caller breaks: TS2345 in use.ts
  mutant('use.ts', 1, 'limit(4)', "limit('4')"), // TS2345 in use.ts
];

async function probe(preload: boolean) {
  const args = [
    ...(preload ? ['--import', path.join(REPO_ROOT, 'scripts/mutation/checker-preload.mjs')] : []),
    path.join(REPO_ROOT, 'test/support/mutation-checker-probe.mjs'),
    project,
    JSON.stringify(mutants),
  ];
  const { stdout } = await run(process.execPath, args, { cwd: REPO_ROOT, timeout: 60_000 });
  return JSON.parse(stdout) as { initErrors: number; results: string[][]; reused: number };
}

describe("the mutation checker's preload", () => {
  it('reports exactly what plain TypeScript reports, mutant by mutant, while reusing parsed files', async () => {
    const [plain, cached] = await Promise.all([probe(false), probe(true)]);
    expect(plain.initErrors).toBe(0);
    expect(plain.results.map((errors) => errors.length > 0)).toEqual([true, false, false, true, true]);
    expect(plain.results[0]!.join()).toMatch(/limits\.ts TS2322/);
    expect(plain.results[3]!.join()).toMatch(/use\.ts TS2345/);
    expect(cached.results).toEqual(plain.results);
    expect(plain.reused).toBe(0);
    // lib files and the unmutated file, on each of the five checks and each revert.
    expect(cached.reused).toBeGreaterThan(5);
  }, 120_000);
});

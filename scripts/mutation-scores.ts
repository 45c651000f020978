/**
 * Mutation score per module from Stryker's JSON report (mutation-testing-report-schema):
 *
 *   npm run mutation:scores [-- path/to/mutation.json] [--survivors]
 *
 * Score = (killed + timeout) / (killed + timeout + survived + no coverage), Stryker's own
 * definition; compile errors (caught by the TypeScript checker) and ignored mutants do not count.
 * `marked` counts the mutants a `// Stryker disable` comment sets aside as equivalent, each with its
 * reason beside it in the source, so a score never hides how many were; `static` counts the module
 * constants the full run skips (`ignoreStatic`).
 * Modules are named by the file they live in, so the table reads the same after files move.
 */
import { readFileSync } from 'node:fs';

interface Mutant {
  id: string;
  mutatorName: string;
  replacement?: string;
  status: string;
  statusReason?: string;
  location: { start: { line: number; column: number } };
}
interface Report {
  files: Record<string, { source: string; mutants: Mutant[] }>;
}

const args = process.argv.slice(2);
const file = args.find((a) => !a.startsWith('--')) ?? 'reports/mutation/mutation.json';
const showSurvivors = args.includes('--survivors');
const report = JSON.parse(readFileSync(file, 'utf8')) as Report;

const DETECTED = new Set(['Killed', 'Timeout']);
const UNDETECTED = new Set(['Survived', 'NoCoverage']);

interface Row {
  module: string;
  killed: number;
  survived: number;
  noCoverage: number;
  invalid: number;
  marked: number;
  statik: number;
  score: number;
}

function row(module: string, mutants: Mutant[]): Row {
  const count = (pred: (m: Mutant) => boolean) => mutants.filter(pred).length;
  const detected = count((m) => DETECTED.has(m.status));
  const survived = count((m) => m.status === 'Survived');
  const noCoverage = count((m) => m.status === 'NoCoverage');
  const invalid = count((m) => m.status === 'CompileError' || m.status === 'RuntimeError');
  const statik = count((m) => m.status === 'Ignored' && /^Static/.test(m.statusReason ?? ''));
  const marked = count((m) => m.status === 'Ignored') - statik;
  const valid = detected + survived + noCoverage;
  return {
    module,
    killed: detected,
    survived,
    noCoverage,
    invalid,
    marked,
    statik,
    score: valid ? (100 * detected) / valid : 100,
  };
}

const rows = Object.entries(report.files)
  .map(([path, f]) => row(path, f.mutants))
  .sort((a, b) => a.module.localeCompare(b.module));
const all = row(
  'ALL',
  Object.values(report.files).flatMap((f) => f.mutants),
);

const width = Math.max(...rows.map((r) => r.module.length), 6);
const line = (r: Row) =>
  `${r.module.padEnd(width)}  ${r.score.toFixed(1).padStart(6)}%  ${String(r.killed).padStart(6)}  ${String(r.survived).padStart(8)}  ${String(r.noCoverage).padStart(7)}  ${String(r.invalid).padStart(7)}  ${String(r.marked).padStart(6)}  ${String(r.statik).padStart(6)}`;
process.stdout.write(
  `${'module'.padEnd(width)}   score  killed  survived  no-cov  invalid  marked  static\n`,
);
for (const r of rows) process.stdout.write(`${line(r)}\n`);
process.stdout.write(`${line(all)}\n`);

if (showSurvivors) {
  for (const [path, f] of Object.entries(report.files)) {
    const lines = f.source.split('\n');
    for (const m of f.mutants.filter((x) => UNDETECTED.has(x.status))) {
      const at = m.location.start;
      const src = (lines[at.line - 1] ?? '').trim();
      process.stdout.write(
        `\n${path}:${at.line}:${at.column} ${m.status} ${m.mutatorName} → ${JSON.stringify(m.replacement ?? '')}\n  ${src}\n`,
      );
    }
  }
}

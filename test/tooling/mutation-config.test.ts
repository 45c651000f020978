/**
 * Mutation testing's scope is written once (MUTATE in config/mutation/stryker.config.mjs); the
 * TypeScript checker's program (config/mutation/tsconfig.json) must be the same files, or mutants
 * outside it are never type-checked and mutants inside it pay for a bigger program on every check.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
// @ts-expect-error: a plain ES module config without type declarations
import { MUTATE } from '../../config/mutation/stryker.config.mjs';
import { REPO_ROOT } from '../support/fixtures.ts';

const CONFIG_DIR = path.join(REPO_ROOT, 'config', 'mutation');

/** The .ts files a scope entry names: a path, `dir/*.ts`, `dir/*-suffix.ts` or `dir/**\/*.ts`. */
function filesOf(entry: string): string[] {
  if (!entry.includes('*')) return existsSync(path.join(REPO_ROOT, entry)) ? [entry] : [];
  const recursive = entry.includes('/**/');
  const dir = entry.slice(0, entry.indexOf(recursive ? '/**/' : '/*'));
  const pattern = entry.slice(entry.lastIndexOf('/') + 1);
  const re = new RegExp(`^${pattern.replace(/[.]/g, '\\.').replace(/\*/g, '[^/]*')}$`);
  const names = readdirSync(path.join(REPO_ROOT, dir), { recursive }) as string[];
  return names.filter((f) => re.test(path.basename(f))).map((f) => `${dir}/${f}`);
}

describe('mutation testing config', () => {
  it("the checker's tsconfig includes exactly the mutated files", () => {
    const tsconfig = JSON.parse(readFileSync(path.join(CONFIG_DIR, 'tsconfig.json'), 'utf8')) as {
      include: string[];
    };
    // tsconfig paths are relative to its own folder; Stryker's are relative to the repository root.
    expect(tsconfig.include.map((p) => path.relative(REPO_ROOT, path.resolve(CONFIG_DIR, p)))).toEqual(
      MUTATE,
    );
  });

  it('every entry of the scope still names code (a moved module must not drop out silently)', () => {
    for (const entry of MUTATE as string[]) expect(filesOf(entry).length, entry).toBeGreaterThan(0);
    expect(filesOf('src/state/*-atomic.ts').sort()).toEqual([
      'src/state/redis-atomic.ts',
      'src/state/sqlite-atomic.ts',
    ]);
  });

  it('the root holds no mutation configs: they live in config/mutation, and the npm scripts name them', () => {
    const root = readdirSync(REPO_ROOT);
    // (Stryker's sandbox, .stryker-tmp, is git-ignored and comes and goes.)
    expect(root.filter((f) => /stryker|mutation/.test(f) && !f.startsWith('.'))).toEqual([]);
    const pkg = JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as {
      scripts: Record<string, string>;
    };
    for (const script of ['mutation', 'mutation:ci']) {
      const file = /stryker run (\S+)/.exec(pkg.scripts[script]!)?.[1];
      expect(file && existsSync(path.join(REPO_ROOT, file)), script).toBe(true);
    }
  });
});

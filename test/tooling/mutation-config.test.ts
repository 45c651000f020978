/**
 * Mutation testing's scope is written once (MUTATE in stryker.config.mjs); the TypeScript checker's
 * program (tsconfig.mutation.json) must be the same files, or mutants outside it are never
 * type-checked and mutants inside it pay for a bigger program on every check.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
// @ts-expect-error: a plain ES module config without type declarations
import { MUTATE } from '../../stryker.config.mjs';
import { REPO_ROOT } from '../support/fixtures.ts';

describe('mutation testing config', () => {
  it("the checker's tsconfig includes exactly the mutated files", () => {
    const tsconfig = JSON.parse(readFileSync(path.join(REPO_ROOT, 'tsconfig.mutation.json'), 'utf8')) as {
      include: string[];
    };
    expect(tsconfig.include).toEqual(MUTATE);
  });

  it('every entry of the scope still names code (a moved module must not drop out silently)', () => {
    for (const entry of MUTATE as string[]) {
      const [dir] = entry.split('/**');
      if (entry.includes('**')) {
        const files = (readdirSync(path.join(REPO_ROOT, dir!), { recursive: true }) as string[]).filter((f) =>
          f.endsWith('.ts'),
        );
        expect(files.length, entry).toBeGreaterThan(0);
      } else expect(existsSync(path.join(REPO_ROOT, entry)), entry).toBe(true);
    }
  });
});

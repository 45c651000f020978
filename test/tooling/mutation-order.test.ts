/**
 * The mutation run's test-file order (config/mutation/fast-first-sequencer.ts): the mutated module's
 * own tests first unless they are over five times slower, then quickest first, untimed files last.
 */
import { describe, expect, it } from 'vitest';
import type { TestSpecification, Vitest } from 'vitest/node';
import {
  FastFirstSequencer,
  isOwnTestFile,
  mutationOrder,
  stemOf,
} from '../../config/mutation/fast-first-sequencer.ts';

const timed = (file: string, duration: number | undefined, size = 0) => ({ file, duration, size });
const names = (files: { file: string }[]) => files.map((f) => f.file);

describe('mutation run test-file order', () => {
  it('a file is named after a module by the same stem, or a stem that starts with it', () => {
    expect(stemOf('/repo/src/index/engines/lance-writer.ts')).toBe('lance-writer');
    expect(stemOf('/repo/test/index/lance-writer.test.ts')).toBe('lance-writer');
    expect(isOwnTestFile('test/conversation/engine-paths.test.ts', 'src/conversation/engine.ts')).toBe(true);
    expect(isOwnTestFile('test/index/lance-writer.test.ts', 'src/index/engines/lance-writer.ts')).toBe(true);
    expect(isOwnTestFile('test/index/import-npy.test.ts', 'src/index/engines/lance-writer.ts')).toBe(false);
    // Only a prefix counts: `npy.ts` is not `import-npy.test.ts`'s module.
    expect(isOwnTestFile('test/index/import-npy.test.ts', 'src/index/npy.ts')).toBe(false);
  });

  it('without one mutated file (the dry run, plain vitest): quickest first, untimed last by size', () => {
    const files = [
      timed('c.test.ts', 300),
      timed('u2.test.ts', undefined, 900),
      timed('a.test.ts', 100),
      timed('u1.test.ts', undefined, 50),
    ];
    expect(names(mutationOrder(files, undefined))).toEqual([
      'a.test.ts',
      'c.test.ts',
      'u1.test.ts',
      'u2.test.ts',
    ]);
  });

  it("the module's own file first while it takes under five times a quicker file's time, after it beyond", () => {
    const mutated = '/repo/src/index/engines/lance-writer.ts';
    const others = [
      timed('/repo/test/index/engines.test.ts', 2700),
      timed('/repo/test/index/import-npy.test.ts', 2400),
    ];
    // 3.8 s counts as 0.76 s: ahead of both.
    expect(
      names(mutationOrder([...others, timed('/repo/test/index/lance-writer.test.ts', 3800)], mutated)),
    ).toEqual([
      '/repo/test/index/lance-writer.test.ts',
      '/repo/test/index/import-npy.test.ts',
      '/repo/test/index/engines.test.ts',
    ]);
    // 13 s counts as 2.6 s: between them.
    expect(
      names(mutationOrder([...others, timed('/repo/test/index/lance-writer.test.ts', 13_000)], mutated)),
    ).toEqual([
      '/repo/test/index/import-npy.test.ts',
      '/repo/test/index/lance-writer.test.ts',
      '/repo/test/index/engines.test.ts',
    ]);
  });

  it("the sequencer reads the mutated file from vitest's `related` and the durations from its cache", async () => {
    const durations: Record<string, number> = { 'test/a/quick.test.ts': 100, 'test/a/engine.test.ts': 400 };
    const ctx = (related: string[] | undefined) =>
      ({
        config: { root: '/repo', related },
        cache: {
          getFileTestResults: (key: string) => {
            const d = durations[key.slice(key.indexOf(':') + 1)];
            return d === undefined ? undefined : { duration: d, failed: false };
          },
          getFileStats: () => ({ size: 1 }),
        },
      }) as unknown as Vitest;
    const specs = ['/repo/test/a/quick.test.ts', '/repo/test/a/engine.test.ts'].map(
      (moduleId) => ({ moduleId, project: { name: '' } }) as unknown as TestSpecification,
    );
    const order = async (related: string[] | undefined) =>
      (await new FastFirstSequencer(ctx(related)).sort(specs)).map((s) => s.moduleId);
    expect(await order(['/repo/src/conversation/engine.ts'])).toEqual([
      '/repo/test/a/engine.test.ts',
      '/repo/test/a/quick.test.ts',
    ]);
    expect(await order(undefined)).toEqual(['/repo/test/a/quick.test.ts', '/repo/test/a/engine.test.ts']);
    expect(await order(['/repo/src/conversation/engine.ts', '/repo/src/x.ts'])).toEqual([
      '/repo/test/a/quick.test.ts',
      '/repo/test/a/engine.test.ts',
    ]);
  });
});

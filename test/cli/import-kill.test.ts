/**
 * A streamed import killed with SIGKILL resumes on the next run: the staged rows are kept, the rerun
 * reads on from there, and the published index equals the input. Nothing is served in between.
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { mixture } from '../../scripts/bench/clustered.ts';
import { encodeNpy } from '../../src/index/npy.ts';
import { openVectorIndex } from '../../src/index/open.ts';
import { topKPlain } from '../../src/vector/flat-search.ts';
import { REPO_ROOT, tempDir } from '../support/fixtures.ts';

const BIN = path.join(REPO_ROOT, 'bin', 'imagesearch.js');
const DIM = 64;
const ROWS = 100_000;

function runImport(args: string[]) {
  const { PATH, HOME, TMPDIR } = process.env;
  const child = spawn(process.execPath, [BIN, 'import-npy', ...args], {
    env: { PATH, HOME, TMPDIR, LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => {
    stdout += d.toString();
  });
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  return { child, done, stdout: () => stdout, stderr: () => stderr };
}

/**
 * How far an import has got with writes that will survive a kill: complete lines of the local
 * staging log (entries are appended after their vectors), or committed versions of LanceDB's staged
 * table (the first is the empty table).
 */
function staged(out: string): number {
  if (!existsSync(out)) return 0;
  for (const name of readdirSync(out)) {
    if (name.startsWith('.staging-')) {
      const f = path.join(out, name, 'entries.jsonl');
      return existsSync(f) ? readFileSync(f, 'utf8').split('\n').length - 1 : 0;
    }
    if (name.startsWith('imagesearch-') && name.endsWith('.lance')) {
      const versions = path.join(out, name, '_versions');
      return existsSync(versions)
        ? Math.max(0, readdirSync(versions).filter((f) => f.endsWith('.manifest')).length - 1)
        : 0;
    }
  }
  return 0;
}

describe.each(['int8', 'lancedb'] as const)('import-npy --engine %s, killed with SIGKILL', (engine) => {
  it('resumes after the rows it had written and publishes the whole input', {
    timeout: 240_000,
  }, async () => {
    const dir = tempDir();
    const features = mixture(ROWS, DIM, { clusters: 500, sigma: 0.08 });
    writeFileSync(path.join(dir, 'features.npy'), encodeNpy(features, ROWS, DIM));
    writeFileSync(
      path.join(dir, 'photo_ids.csv'),
      `photo_id\n${Array.from({ length: ROWS }, (_, i) => `ph${i}`).join('\n')}\n`,
    );
    const out = path.join(tempDir(), 'index');
    const args = [
      '--features',
      path.join(dir, 'features.npy'),
      '--ids',
      path.join(dir, 'photo_ids.csv'),
      '--engine',
      engine,
      '--no-progress',
      // The ANN build is not what is tested here, and costs most of the time: skip it.
      '--ann-min-rows',
      String(ROWS + 1),
      '--out',
      out,
    ];

    const first = runImport(args);
    const deadline = Date.now() + 120_000;
    while (staged(out) === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    first.child.kill('SIGKILL');
    expect((await first.done).signal).toBe('SIGKILL');
    expect(staged(out)).toBeGreaterThan(0);
    // Killed before publishing: there is no index to serve.
    await expect(openVectorIndex(out)).rejects.toThrow(/No index found|not been published/);

    const second = runImport(args);
    expect((await second.done).code, second.stderr()).toBe(0);
    const m = /Imported (\d+) vectors .*resumed after (\d+) rows/.exec(second.stdout());
    expect(m, second.stdout()).not.toBeNull();
    expect(Number(m![1])).toBe(ROWS);
    expect(Number(m![2])).toBeGreaterThan(0);
    expect(Number(m![2])).toBeLessThan(ROWS);

    const index = await openVectorIndex(out, {
      expect: { modelId: 'openai/clip-vit-base-patch32', dim: DIM },
    });
    try {
      expect(index.engine).toBe(engine);
      expect(index.size).toBe(ROWS);
      for (const row of [0, 65_537, ROWS - 1]) {
        const v = (await index.getVector(`ph${row}`))!;
        const want = features.subarray(row * DIM, (row + 1) * DIM);
        expect(Math.max(...Array.from(v, (x, d) => Math.abs(x - want[d]!)))).toBeLessThan(1e-6);
      }
      const query = features.slice(77 * DIM, 78 * DIM);
      const ref = topKPlain(features, DIM, query, 5);
      const hits = await index.search(query, 5);
      expect(hits[0]!.id).toBe('ph77');
      if (engine === 'int8') expect(hits.map((h) => h.id)).toEqual(Array.from(ref.indices, (i) => `ph${i}`));
    } finally {
      await index.close();
    }
  });
});

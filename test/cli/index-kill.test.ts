import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { IMAGES_DIR, REPO_ROOT, tempDir } from '../support/fixtures.ts';
import { getTinyModelDir } from '../support/models.ts';

const BIN = path.join(REPO_ROOT, 'bin', 'imagesearch.js');

function runIndex(args: string[], env: NodeJS.ProcessEnv) {
  const child = spawn(process.execPath, [BIN, 'index', ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  child.stdout.on('data', (d: Buffer) => {
    stdout += d.toString();
  });
  child.stderr.resume();
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  return { child, done, stdout: () => stdout };
}

/** Rows in the build checkpoint (vectors.f32 / 512 floats), or 0 before it exists. */
function checkpointRows(out: string): number {
  if (!existsSync(out)) return 0;
  const dir = readdirSync(out).find((d) => d.startsWith('.build-'));
  const file = dir && path.join(out, dir, 'vectors.f32');
  return file && existsSync(file) ? statSync(file).size / (512 * 4) : 0;
}

describe('imagesearch index, killed with SIGKILL mid-build', () => {
  it('resumes on the next run without re-embedding finished batches', async () => {
    const images = tempDir();
    const files = readdirSync(IMAGES_DIR).filter((f) => !f.endsWith('.json'));
    for (let i = 0; i < 160; i++) {
      const f = files[i % files.length]!;
      copyFileSync(path.join(IMAGES_DIR, f), path.join(images, `${String(i).padStart(3, '0')}-${f}`));
    }
    const out = tempDir();
    const { PATH, HOME, TMPDIR } = process.env;
    const env = { PATH, HOME, TMPDIR, IMAGESEARCH_MODEL_DIR: await getTinyModelDir(), LOG_LEVEL: 'warn' };
    const args = ['--out', out, '--images', images, '--batch', '4', '--no-progress'];

    const first = runIndex(args, env);
    const deadline = Date.now() + 30_000;
    while (checkpointRows(out) < 12 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    first.child.kill('SIGKILL');
    const killed = await first.done;
    expect(killed.signal).toBe('SIGKILL');
    const doneBefore = checkpointRows(out);
    expect(doneBefore).toBeGreaterThanOrEqual(12);
    expect(doneBefore).toBeLessThan(160);
    expect(existsSync(path.join(out, 'index.json'))).toBe(false);

    const second = runIndex(args, env);
    expect((await second.done).code).toBe(0);
    const match = /Indexed (\d+) images .*\((\d+) new, (\d+) unchanged, .* resumed[;)]/.exec(second.stdout());
    expect(match, second.stdout()).not.toBeNull();
    const [, total, added, reused] = match!.map(Number);
    expect(total).toBe(160);
    expect(reused).toBeGreaterThanOrEqual(doneBefore - 4); // a torn last batch may be redone
    expect(added! + reused!).toBe(160);
  });
});

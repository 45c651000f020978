/**
 * Runs the real `imagesearch` program (bin/imagesearch.js) in a child process, as a user would,
 * against the tiny fixture model and the small fixture index.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'vitest';
import { IMAGES_DIR, REPO_ROOT, tempDir } from './fixtures.ts';
import { getSmallIndexDir, getTinyModelDir } from './models.ts';

const run = promisify(execFile);
const BIN = path.join(REPO_ROOT, 'bin', 'imagesearch.js');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** The environment every run starts from: nothing of the caller's but PATH, HOME and TMPDIR. */
export async function cliEnv(): Promise<NodeJS.ProcessEnv> {
  const { PATH, HOME, TMPDIR } = process.env;
  return {
    PATH,
    HOME,
    TMPDIR,
    IMAGESEARCH_MODEL_DIR: await getTinyModelDir(),
    IMAGESEARCH_INDEX_DIR: await getSmallIndexDir(),
    // The small index's photos are the fixture images: the operator allows that folder.
    IMAGES_DIR,
    // Random weights give meaningless scores: no junk floor.
    IMAGESEARCH_MIN_SCORE: '-1',
    IMAGESEARCH_DATA_DIR: tempDir(),
    LOG_LEVEL: 'warn',
  };
}

export async function runCli(args: string[], env: NodeJS.ProcessEnv): Promise<CliResult> {
  try {
    const { stdout, stderr } = await run(process.execPath, [BIN, ...args], {
      env,
      cwd: tempDir(),
      timeout: 60_000,
    });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    return { code: err.code ?? -1, stdout: err.stdout ?? '', stderr: err.stderr ?? '' };
  }
}

/** One friendly line, no stack trace. */
export function expectFriendlyError(r: CliResult, pattern: RegExp, code = 1): void {
  expect(r.code).toBe(code);
  expect(r.stderr).toMatch(pattern);
  expect(r.stderr).not.toMatch(/^\s+at /m);
}

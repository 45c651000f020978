/**
 * Shared test fixtures. Generated artefacts are cached under the OS temp dir (keyed by content
 * version), so the tiny model and small index are made once per machine, not once per test file.
 * `../shared` is read-only: anything written goes to a temp folder.
 */
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const SHARED_DIR = process.env.IMAGESEARCH_SHARED_DIR ?? path.resolve(REPO_ROOT, '..', 'shared');
export const FIXTURES_DIR = path.join(SHARED_DIR, 'fixtures');
export const CLIP_FIXTURES_DIR = path.join(FIXTURES_DIR, 'clip', 'hf-xenova-clip-vit-base-patch32');
export const IMAGES_DIR = path.join(FIXTURES_DIR, 'images');

/** A fresh temp dir for one test. */
export function tempDir(prefix = 'imagesearch-test-'): string {
  return mkdtempSync(path.join(os.tmpdir(), prefix));
}

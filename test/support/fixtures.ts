/**
 * Shared test fixtures. Generated artefacts are cached under the OS temp dir (keyed by content
 * version), so the tiny model and small index are made once per machine, not once per test file.
 * `test/fixtures/` is read-only for tests: anything written goes to a temp folder.
 */
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export { CLIP_FIXTURES_DIR, FIXTURES_DIR, IMAGES_DIR, REPO_ROOT } from '../../scripts/fixture-paths.ts';

/** A fresh temp dir for one test. */
export function tempDir(prefix = 'imagesearch-test-'): string {
  return mkdtempSync(path.join(os.tmpdir(), prefix));
}

/**
 * Where the repository keeps its fixture data (test/fixtures/, origins in test/fixtures/SOURCES.md).
 * Scripts (fixture models, benchmarks, the device kit) and tests read them from here: nothing outside
 * the clone is ever needed.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const FIXTURES_DIR = path.join(REPO_ROOT, 'test', 'fixtures');
/** The real tokenizer and config files of Xenova/clip-vit-base-patch32 (no weights). */
export const CLIP_FIXTURES_DIR = path.join(FIXTURES_DIR, 'clip', 'hf-xenova-clip-vit-base-patch32');
/** A dozen small real photos (labels.json says what each shows). */
export const IMAGES_DIR = path.join(FIXTURES_DIR, 'images');

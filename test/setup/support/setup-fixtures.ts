/**
 * Shared helpers for the setup tests: a model repo's files (real tokenizer/config files, stand-in
 * ONNX bytes), a config pointing at the local hub peer, and a small index builder that records
 * what it was asked to index.
 */
import { readFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { MODEL_CONFIG_FILES } from '../../../src/setup/hf-download.ts';
import type { IndexBuilder } from '../../../src/setup/setup.ts';
import { type Config, loadConfig } from '../../../src/util/config.ts';
import { pseudoRandom } from '../../peers/unsplash-fixture.ts';
import { CLIP_FIXTURES_DIR } from '../../support/fixtures.ts';

/** Files of a quantized model repo; the weights are seeded noise of the given sizes. */
export function modelRepoFiles(textBytes = 200_000, visionBytes = 600_000): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  for (const f of MODEL_CONFIG_FILES) files.set(f, readFileSync(path.join(CLIP_FIXTURES_DIR, f)));
  files.set('onnx/text_model_quantized.onnx', pseudoRandom(textBytes, 11));
  files.set('onnx/vision_model_quantized.onnx', pseudoRandom(visionBytes, 12));
  return files;
}

export function testEnv(hubUrl: string, datasetUrl: string, dataDir: string): NodeJS.ProcessEnv {
  return {
    IMAGESEARCH_DATA_DIR: dataDir,
    HF_ENDPOINT: hubUrl,
    UNSPLASH_LITE_URL: datasetUrl,
    IMAGESEARCH_MODEL_VARIANT: 'quantized',
    LOG_LEVEL: 'silent',
  };
}

export function testConfig(hubUrl: string, datasetUrl: string, dataDir: string): Config {
  return loadConfig(testEnv(hubUrl, datasetUrl, dataDir));
}

/** Fast network settings so failures resolve in milliseconds. */
export const FAST_NETWORK = {
  retry: { retries: 3, minDelayMs: 10, maxDelayMs: 50 },
  stallTimeoutMs: 3000,
  thumbnails: { timeoutMs: 800, retry: { retries: 1, minDelayMs: 10, maxDelayMs: 20 }, concurrency: 4 },
};

/** Stand-in for the CLIP index build: checks the manifest's thumbnails exist, then commits `index.json`. */
export const recordingBuilder: IndexBuilder = async (req) => {
  const lines = (await fs.readFile(req.manifest, 'utf8')).trim().split('\n').slice(1);
  for (const line of lines) {
    const rel = line.split(',')[1] as string;
    await fs.access(path.resolve(path.dirname(req.manifest), rel));
  }
  await fs.mkdir(req.outDir, { recursive: true });
  await fs.writeFile(path.join(req.outDir, 'index.json'), JSON.stringify({ fake: true, rows: lines.length }));
  return { total: lines.length, added: lines.length, skipped: [], resumed: false };
};

/** An http://127.0.0.1:PORT address where nothing listens (connection refused). */
export async function closedPortUrl(): Promise<string> {
  const { createServer } = await import('node:net');
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (!addr || typeof addr === 'string') throw new Error('no port');
  return `http://127.0.0.1:${addr.port}`;
}

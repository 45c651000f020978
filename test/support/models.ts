/**
 * Real, small artefacts for tests: the tiny fixture CLIP model (seeded random weights, the real
 * tokenizer) and an index over test/fixtures/images, generated once per machine into the OS temp
 * dir (a lock keeps parallel test files from racing) and reused.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import lockfile from 'proper-lockfile';
import { makeFixtureModel } from '../../scripts/fixture-model/generate.ts';
import { ClipModel } from '../../src/clip/clip-model.ts';
import type { Reranker } from '../../src/core/types.ts';
import { SharpGridRenderer } from '../../src/grid/grid-renderer.ts';
import { LocalAndRemoteImageStore } from '../../src/images/image-store.ts';
import { buildIndex } from '../../src/index/build.ts';
import type { EngineName, LoadedIndex } from '../../src/index/engines/types.ts';
import { openIndexWriter, openVectorIndex } from '../../src/index/open.ts';
import { readPublished } from '../../src/index/published.ts';
import { SearchPipeline, type SearchPipelineOptions } from '../../src/search/search-service.ts';
import { type Logger, silentLogger } from '../../src/util/logger.ts';
import { CLIP_FIXTURES_DIR, IMAGES_DIR, REPO_ROOT, tempDir } from './fixtures.ts';

/** Bump when the generator's output changes, so stale caches are not reused. */
const FIXTURE_VERSION = 1;
/** Per checkout: a cached index records where its photos live, so two clones never share one. */
const CHECKOUT = createHash('sha256').update(REPO_ROOT).digest('hex').slice(0, 8);
const CACHE_ROOT = path.join(os.tmpdir(), `imagesearch-test-cache-v${FIXTURE_VERSION}-${CHECKOUT}`);

async function once(name: string, make: (dir: string) => Promise<void>): Promise<string> {
  const dir = path.join(CACHE_ROOT, name);
  const done = path.join(dir, '.done');
  if (existsSync(done)) return dir;
  mkdirSync(CACHE_ROOT, { recursive: true });
  const release = await lockfile.lock(CACHE_ROOT, {
    lockfilePath: path.join(CACHE_ROOT, `${name}.lock`),
    retries: { retries: 600, minTimeout: 100, maxTimeout: 500 },
    stale: 120_000,
  });
  try {
    if (!existsSync(done)) {
      await make(dir);
      const { writeFile } = await import('node:fs/promises');
      await writeFile(done, new Date().toISOString());
    }
  } finally {
    await release();
  }
  return dir;
}

/** The tiny fixture model (fp32, fp16 and quantized variants). */
export function getTinyModelDir(): Promise<string> {
  return once('model-tiny-seed1', async (dir) => {
    await makeFixtureModel({
      out: dir,
      preset: 'tiny',
      seed: 1,
      variants: ['fp32', 'fp16', 'quantized'],
      clipFilesDir: CLIP_FIXTURES_DIR,
    });
  });
}

/**
 * An index of the 11 images in test/fixtures/images, built with the tiny model, for `engine`
 * (default flat). Other engines get the flat index's rows rewritten, so all hold the same vectors.
 */
export async function getSmallIndexDir(engine: EngineName = 'flat'): Promise<string> {
  const modelDir = await getTinyModelDir();
  if (engine !== 'flat') {
    const flatDir = await getSmallIndexDir('flat');
    return once(`index-fixture-images-tiny-${engine}`, async (dir) => {
      const flat = (await readPublished(flatDir))!;
      const writer = await openIndexWriter(dir, { engine, modelId: flat.modelId, dim: flat.dim });
      for await (const batch of flat.rows()) await writer.append(batch.entries, batch.vectors);
      await writer.commit({ imagesRoot: IMAGES_DIR, source: `fixture images (${engine})` });
    });
  }
  return once('index-fixture-images-tiny', async (dir) => {
    const model = await ClipModel.load({ dir: modelDir, logger: silentLogger() });
    await buildIndex({
      embedder: model,
      outDir: dir,
      source: { kind: 'images', dir: IMAGES_DIR },
      logger: silentLogger(),
      progress: false,
    });
    await model.close();
  });
}

export interface TestSearchStack {
  model: ClipModel;
  index: LoadedIndex;
  search: SearchPipeline;
  modelDir: string;
  indexDir: string;
  close(): Promise<void>;
}

/**
 * The real search pipeline over the tiny model and the small index (no reranker unless given; the
 * junk floor is off because random weights give meaningless scores).
 */
export async function createTestSearchService(
  opts: {
    reranker?: Reranker;
    logger?: Logger;
    overrides?: Partial<SearchPipelineOptions>;
    /** Index engine under the pipeline (default flat). */
    engine?: EngineName;
  } = {},
): Promise<TestSearchStack> {
  const logger = opts.logger ?? silentLogger();
  const modelDir = await getTinyModelDir();
  const indexDir = await getSmallIndexDir(opts.engine);
  const model = await ClipModel.load({ dir: modelDir, logger });
  const index = await openVectorIndex(indexDir, { expect: { modelId: model.modelId, dim: model.dim } });
  const images = new LocalAndRemoteImageStore({
    allowedHosts: index.hosts,
    cacheDir: path.join(tempDir('imagesearch-thumbs-'), 'cache'),
    ...(index.imagesRoot ? { imagesRoot: index.imagesRoot } : {}),
  });
  const serviceOpts: SearchPipelineOptions = {
    embedder: model,
    index,
    grid: new SharpGridRenderer(),
    images,
    logger,
    minScore: -1,
    ...opts.overrides,
  };
  if (opts.reranker) serviceOpts.reranker = opts.reranker;
  const search = new SearchPipeline(serviceOpts);
  return {
    model,
    index,
    search,
    modelDir,
    indexDir,
    async close() {
      await index.close();
      await model.close();
    },
  };
}

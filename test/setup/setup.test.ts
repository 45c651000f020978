import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { afterEach, describe, expect, it } from 'vitest';
import { setupIndexBuilder } from '../../adapters/app/data.ts';
import { imageStoreOptions } from '../../adapters/app/stack.ts';
import { ImageSearchError } from '../../src/core/errors.ts';
import { LocalAndRemoteImageStore } from '../../src/images/image-store.ts';
import { FlatVectorIndex } from '../../src/index/vector-index.ts';
import { modelFiles } from '../../src/setup/hf-download.ts';
import { needsSetup, runSetup } from '../../src/setup/setup.ts';
import { loadState, saveState } from '../../src/setup/state.ts';
import { readSkipped, SKIPPED_FILE } from '../../src/setup/thumbnails.ts';
import { unsplashPaths } from '../../src/setup/unsplash.ts';
import { silentLogger } from '../../src/util/logger.ts';
import { type HubPeer, startHubPeer } from '../peers/hub-peer.ts';
import { photosTsv, standardPhotos } from '../peers/unsplash-fixture.ts';
import { tempDir } from '../support/fixtures.ts';
import { getTinyModelDir } from '../support/models.ts';
import {
  closedPortUrl,
  FAST_NETWORK,
  modelRepoFiles,
  recordingBuilder,
  testConfig,
} from './support/setup-fixtures.ts';

const logger = silentLogger();
let peer: HubPeer | undefined;
afterEach(async () => {
  await peer?.close();
  peer = undefined;
});

const base = { logger, progress: false, network: FAST_NETWORK } as const;

async function errorOf(p: Promise<unknown>): Promise<ImageSearchError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(ImageSearchError);
  return e as ImageSearchError;
}

describe('runSetup', () => {
  it('first run: model, dataset and a real index; a rerun fetches nothing', async () => {
    const specs = standardPhotos(6);
    peer = await startHubPeer({ modelDir: await getTinyModelDir(), photos: specs });
    const dataDir = tempDir();
    const config = testConfig(peer.url, peer.datasetUrl, dataDir);
    expect(await needsSetup(config)).toEqual({ model: true, index: true });

    const r = await runSetup({ ...base, config, buildIndex: setupIndexBuilder(config) });
    expect(r.model.downloaded).toEqual(modelFiles('quantized'));
    const ok = specs.filter((s) => ['good', 'slow', 'flaky'].includes(s.kind));
    expect(r.dataset?.rows).toBe(ok.length);
    expect(r.index?.total).toBe(ok.length);

    // The manifest: relative paths, credits, one line per row.
    const paths = unsplashPaths(dataDir);
    const lines = readFileSync(paths.manifest, 'utf8').trim().split('\n');
    expect(lines[0]).toBe('id,path,url,page_url,credit_name,credit_url,description,width,height');
    expect(lines[2]).toBe(
      `${specs[1]?.id},${specs[1]?.id}.jpg,${peer.url}/images/photo-${specs[1]?.id},https://unsplash.com/photos/${specs[1]?.id},First1 Last1,https://unsplash.com/@user1,"A ""quoted"" description over two lines",4001,3000`,
    );
    const skipped = await readSkipped(path.join(paths.imagesDir, SKIPPED_FILE));
    expect([...skipped.keys()].sort()).toEqual(
      specs
        .filter((s) => ['missing', 'gone', 'hang', 'truncated', 'corrupt'].includes(s.kind))
        .map((s) => s.id)
        .sort(),
    );

    // The index loads and carries the metadata.
    const index = await FlatVectorIndex.load(config.indexDir);
    expect(index.size).toBe(ok.length);
    expect(await index.getEntry(specs[1]?.id as string)).toMatchObject({
      pageUrl: `https://unsplash.com/photos/${specs[1]?.id}`,
      credit: { name: 'First1 Last1', url: 'https://unsplash.com/@user1' },
      description: 'A "quoted" description over two lines',
    });

    const state = await loadState(dataDir);
    expect(state.model?.done).toBe(true);
    // The keywords table is kept for `imagesearch eval --from-unsplash-keywords`.
    expect(state.dataset?.extract?.parts).toEqual(['photos.tsv000', 'photos.tsv001', 'keywords.tsv000']);
    expect(readFileSync(path.join(paths.tsvDir, 'keywords.tsv000'), 'utf8')).toMatch(/^photo_id\tkeyword\t/);
    expect(state.index).toMatchObject({ done: true, limit: 500, total: ok.length });
    // The archive is deleted once extracted; nothing half-written remains.
    expect(existsSync(paths.archive)).toBe(false);
    expect(readdirSync(path.join(config.modelDir, 'onnx')).some((n) => n.includes('.part'))).toBe(false);
    expect(await needsSetup(config)).toEqual({ model: false, index: false });

    // The index's photos open from its own folder (no URL fallback allowed here).
    const images = new LocalAndRemoteImageStore({ ...imageStoreOptions(config, index), allowedHosts: [] });
    const local = (await index.getEntry(specs[1]?.id as string))!;
    expect((await sharp(await images.get(local, 32)).metadata()).width).toBe(32);

    peer.requests.length = 0;
    const again = await runSetup({ ...base, config, buildIndex: setupIndexBuilder(config) });
    expect(again.model.skipped).toBe(true);
    expect(again.index?.skippedStage).toBe(true);
    expect(peer.requests).toEqual([]);

    // An index built from the manifest's old place (paths leading out of its folder) is rebuilt
    // once, offline, on the next start.
    const saved = await loadState(dataDir);
    await saveState(dataDir, {
      ...saved,
      index: { ...saved.index!, manifest: path.join(dataDir, 'unsplash-lite', 'manifest.csv') },
    });
    expect(await needsSetup(config)).toEqual({ model: false, index: true });
    const rebuilt = await runSetup({ ...base, config, buildIndex: setupIndexBuilder(config) });
    expect(rebuilt.index?.skippedStage).toBe(false);
    expect(peer.requests).toEqual([]);
    expect(await needsSetup(config)).toEqual({ model: false, index: false });
  });

  it('--limit takes the first N photos; --full later adds the rest without refetching', async () => {
    const specs = standardPhotos(6, ['missing']);
    peer = await startHubPeer({ modelFiles: modelRepoFiles(), photos: specs });
    const dataDir = tempDir();
    const config = testConfig(peer.url, peer.datasetUrl, dataDir);
    const r = await runSetup({ ...base, config, limit: 3, buildIndex: recordingBuilder });
    expect(r.dataset?.rows).toBe(3);
    expect(peer.count('/images/')).toBe(3);

    peer.requests.length = 0;
    const full = await runSetup({ ...base, config, full: true, buildIndex: recordingBuilder });
    expect(full.dataset?.rows).toBe(6);
    // Only the photos not fetched before; the archive was not downloaded again.
    expect(peer.requests.map((q) => q.path).sort()).toEqual(
      specs
        .slice(3)
        .map((s) => `/images/photo-${s.id}`)
        .sort(),
    );
    expect((await loadState(dataDir)).index?.limit).toBeNull();

    // A plain rerun keeps the full index instead of shrinking it back to the default limit.
    peer.requests.length = 0;
    const plain = await runSetup({ ...base, config, buildIndex: recordingBuilder });
    expect(plain.index?.skippedStage).toBe(true);
    expect(peer.requests).toEqual([]);
  });

  it('offline hub: one message naming the host, the files, the folder and the variables', async () => {
    const closed = await closedPortUrl();
    const dataDir = tempDir();
    const config = testConfig(closed, `${closed}/lite`, dataDir);
    const e = await errorOf(runSetup({ ...base, config, buildIndex: setupIndexBuilder(config) }));
    expect(e.code).toBe('fetch_failed');
    const host = new URL(closed).host;
    expect(e.userMessage).toContain(`Could not reach ${host} to download the CLIP model`);
    expect(e.userMessage).toContain(`${closed}/Xenova/clip-vit-base-patch32`);
    for (const f of modelFiles('quantized')) expect(e.userMessage).toContain(f);
    expect(e.userMessage).toContain(config.modelDir);
    expect(e.userMessage).toContain('IMAGESEARCH_MODEL_DIR');
    expect(e.userMessage).toContain('HF_ENDPOINT');
    expect(existsSync(path.join(config.modelDir, 'config.json'))).toBe(false);
  });

  it('offline dataset host: says where to put the archive or the TSV parts; hand-placed parts work', async () => {
    peer = await startHubPeer({ modelFiles: modelRepoFiles(), photos: standardPhotos(2, []) });
    const closed = await closedPortUrl();
    const dataDir = tempDir();
    const config = testConfig(peer.url, `${closed}/data/lite/latest`, dataDir);
    const e = await errorOf(runSetup({ ...base, config, buildIndex: recordingBuilder }));
    const paths = unsplashPaths(dataDir);
    expect(e.userMessage).toContain(
      `Could not reach ${new URL(closed).host} to download the Unsplash Lite dataset`,
    );
    expect(e.userMessage).toContain(paths.archive);
    expect(e.userMessage).toContain(paths.tsvDir);
    expect(e.userMessage).toContain('UNSPLASH_LITE_URL');
    // The model stage finished and is not redone.
    expect((await loadState(dataDir)).model?.done).toBe(true);

    // Following the advice: photos.tsv000 put by hand is used without touching the dataset host.
    mkdirSync(paths.tsvDir, { recursive: true });
    writeFileSync(
      path.join(paths.tsvDir, 'photos.tsv000'),
      photosTsv(standardPhotos(2, []), `${peer.url}/images`),
    );
    const r = await runSetup({ ...base, config, buildIndex: recordingBuilder });
    expect(r.dataset?.rows).toBe(2);
  });

  it('a blocked image host is reported once instead of skipping every photo', async () => {
    const closed = await closedPortUrl();
    peer = await startHubPeer({
      modelFiles: modelRepoFiles(),
      photos: standardPhotos(12, []),
      imageBase: `${closed}/images`,
    });
    const config = testConfig(peer.url, peer.datasetUrl, tempDir());
    const e = await errorOf(runSetup({ ...base, config, buildIndex: recordingBuilder }));
    expect(e.userMessage).toContain(
      `Could not reach ${new URL(closed).host} to fetch the Unsplash thumbnails`,
    );
  });

  it('a missing or gated repo says so and names what to change', async () => {
    peer = await startHubPeer({ modelFiles: modelRepoFiles() });
    const config = { ...testConfig(peer.url, peer.datasetUrl, tempDir()), modelRepo: 'someone/missing' };
    const missing = await errorOf(runSetup({ ...base, config, buildIndex: setupIndexBuilder(config) }));
    expect(missing.userMessage).toContain('someone/missing was not found');
    expect(missing.userMessage).toContain('IMAGESEARCH_MODEL_REPO');
    peer.faults.gated = true;
    const gated = await errorOf(
      runSetup({ ...base, config: { ...config, modelRepo: peer.repo }, buildIndex: recordingBuilder }),
    );
    expect(gated.userMessage).toContain('needs permission');
    expect(gated.userMessage).toContain('HF_TOKEN');
  });

  it("Ctrl-C (abort) stops with the caller's reason, frees the lock, and the rerun resumes", async () => {
    peer = await startHubPeer({
      modelFiles: modelRepoFiles(100_000, 2_000_000),
      photos: standardPhotos(2, []),
    });
    peer.faults.throttleBps = 2_000_000;
    peer.faults.throttlePrefix = '/cdn/';
    const config = testConfig(peer.url, peer.datasetUrl, tempDir());
    const controller = new AbortController();
    const part = path.join(config.modelDir, 'onnx/vision_model_quantized.onnx.part');
    const running = runSetup({ ...base, config, signal: controller.signal, buildIndex: recordingBuilder });
    while (!existsSync(part) || statSync(part).size < 300_000) await new Promise((r) => setTimeout(r, 10));
    const reason = new ImageSearchError('internal', 'Setup interrupted; run it again to continue.');
    controller.abort(reason);
    await expect(running).rejects.toBe(reason);
    const kept = statSync(part).size;

    peer.faults.throttleBps = undefined;
    const r = await runSetup({ ...base, config, buildIndex: recordingBuilder });
    expect(r.index?.total).toBe(2);
    const cdn = peer.requests.filter(
      (q) => q.path.endsWith('vision_model_quantized.onnx') && q.method === 'GET',
    );
    expect(cdn.at(-1)?.range).toBe(`bytes=${kept}-`);
  });

  it('two setups on one data directory: the second is refused', async () => {
    peer = await startHubPeer({ modelFiles: modelRepoFiles(), photos: standardPhotos(2, []) });
    peer.faults.throttleBps = 2_000_000;
    const config = testConfig(peer.url, peer.datasetUrl, tempDir());
    const first = runSetup({ ...base, config, buildIndex: recordingBuilder });
    await new Promise((r) => setTimeout(r, 100));
    const e = await errorOf(runSetup({ ...base, config, buildIndex: recordingBuilder }));
    expect(e.code).toBe('busy');
    peer.faults.throttleBps = undefined;
    await first;
  });
});

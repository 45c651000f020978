/**
 * The photo folder and absolute-path permission come from the operator: an index that names a
 * folder outside IMAGES_DIR (default: the data directory), or asks for absolute paths without
 * ALLOW_ABSOLUTE_IMAGE_PATHS, is refused with a message naming the setting, before anything is served.
 */
import { cpSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { imageStoreOptions } from '../../adapters/app/stack.ts';
import { LocalAndRemoteImageStore } from '../../src/images/image-store.ts';
import { FlatVectorIndex } from '../../src/index/vector-index.ts';
import { writeIndex } from '../../src/index/writer.ts';
import { loadConfig } from '../../src/util/config.ts';
import { IMAGES_DIR, tempDir } from '../support/fixtures.ts';

async function indexNaming(imagesRoot: string, allowAbsolutePaths = false) {
  const dir = tempDir();
  await writeIndex(dir, {
    modelId: 'm',
    dim: 2,
    vectors: new Float32Array([1, 0]),
    entries: [{ id: 'cat', path: 'cat.png' }],
    imagesRoot,
    ...(allowAbsolutePaths ? { allowAbsolutePaths: true } : {}),
  });
  return FlatVectorIndex.load(dir);
}

function photos(): { dataDir: string; folder: string } {
  const dataDir = tempDir();
  const folder = path.join(dataDir, 'photos');
  mkdirSync(folder);
  cpSync(path.join(IMAGES_DIR, 'cat_chelsea.png'), path.join(folder, 'cat.png'));
  return { dataDir, folder };
}

describe('photo folder: the operator decides', () => {
  it('an index reading photos from "/" is refused, naming IMAGES_DIR', async () => {
    const { dataDir } = photos();
    const index = await indexNaming('/');
    const config = loadConfig({ IMAGESEARCH_DATA_DIR: dataDir });
    expect(() => imageStoreOptions(config, index)).toThrow(/IMAGES_DIR/);
    await index.close();
  });

  it('an index inside the data directory (setup’s photos) or inside IMAGES_DIR is served', async () => {
    const { dataDir, folder } = photos();
    const index = await indexNaming(folder);
    for (const env of [{ IMAGESEARCH_DATA_DIR: dataDir }, { IMAGES_DIR: folder }]) {
      const images = new LocalAndRemoteImageStore(imageStoreOptions(loadConfig(env), index));
      const bytes = await images.get((await index.getEntry('cat'))!, 32);
      expect((await sharp(bytes).metadata()).width).toBe(32);
    }
    // IMAGES_DIR narrows what is allowed: the data directory no longer counts then.
    const elsewhere = tempDir();
    expect(() =>
      imageStoreOptions(loadConfig({ IMAGESEARCH_DATA_DIR: dataDir, IMAGES_DIR: elsewhere }), index),
    ).toThrow(/IMAGES_DIR/);
    await index.close();
  });

  it('absolute paths need ALLOW_ABSOLUTE_IMAGE_PATHS, whatever the index says', async () => {
    const { dataDir, folder } = photos();
    const index = await indexNaming(folder, true);
    expect(index.allowAbsolutePaths).toBe(true);
    expect(() => imageStoreOptions(loadConfig({ IMAGESEARCH_DATA_DIR: dataDir }), index)).toThrow(
      /ALLOW_ABSOLUTE_IMAGE_PATHS/,
    );
    const allowed = imageStoreOptions(
      loadConfig({ IMAGESEARCH_DATA_DIR: dataDir, ALLOW_ABSOLUTE_IMAGE_PATHS: 'true' }),
      index,
    );
    expect(allowed.allowAbsolutePaths).toBe(true);
    await index.close();
  });
});

/**
 * A full disk while building or importing an index is said in words: "Disk full", the folder being
 * written, and the kept work folder (`.build-*` / `.staging-*`) that holds space until it is resumed
 * or deleted. The disk is a real one: a small tmpfs filled to the brim (needs permission to mount;
 * skipped where the test cannot mount one).
 */
import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, writeFileSync, writeSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildIndex } from '../../src/index/build.ts';
import { isDiskFull } from '../../src/index/disk-full.ts';
import { importNpy } from '../../src/index/import-npy.ts';
import { encodeNpy } from '../../src/index/npy.ts';
import { silentLogger } from '../../src/util/logger.ts';
import { IMAGES_DIR, tempDir } from '../support/fixtures.ts';
import { FakeEmbedder } from '../support/search-service-fakes.ts';

const mnt = tempDir('imagesearch-full-disk-');
let mounted = false;
try {
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', mnt], { stdio: 'ignore' });
  mounted = true;
} catch {
  console.warn('cannot mount a tmpfs here (needs root): skipping the full-disk tests');
}

/** Fills the mounted disk until the OS says ENOSPC. */
function fill(): void {
  const fd = openSync(path.join(mnt, 'filler'), 'w');
  const block = Buffer.alloc(4096, 1);
  try {
    for (;;) writeSync(fd, block);
  } catch (e) {
    expect(isDiskFull(e)).toBe(true);
  } finally {
    closeSync(fd);
  }
}

describe.skipIf(!mounted)('full disk (a real, full tmpfs)', () => {
  beforeAll(() => fill());
  afterAll(() => {
    execFileSync('umount', [mnt], { stdio: 'ignore' });
  });

  it('index: "Disk full", names the folder and the kept .build-* folder', async () => {
    const out = path.join(mnt, 'index');
    const err = await buildIndex({
      embedder: new FakeEmbedder(),
      outDir: out,
      source: { kind: 'images', dir: IMAGES_DIR },
      logger: silentLogger(),
      progress: false,
    }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toMatchObject({ code: 'internal', userMessage: expect.stringMatching(/^Disk full/) });
    const message = (err as { userMessage: string }).userMessage;
    expect(message).toContain(out);
    expect(message).toMatch(new RegExp(`${out.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/\\.build-`));
  });

  it('import-npy: "Disk full", names the folder and the kept staging folder', async () => {
    const src = tempDir();
    writeFileSync(path.join(src, 'f.npy'), encodeNpy(new Float32Array(4096).fill(1), 512, 8));
    writeFileSync(
      path.join(src, 'ids.csv'),
      `photo_id\n${Array.from({ length: 512 }, (_, i) => `p${i}`).join('\n')}\n`,
    );
    const out = path.join(mnt, 'imported');
    mkdirSync(out, { recursive: true });
    await expect(
      importNpy({ features: path.join(src, 'f.npy'), ids: path.join(src, 'ids.csv'), outDir: out }),
    ).rejects.toMatchObject({
      code: 'internal',
      userMessage: expect.stringMatching(/^Disk full: could not write to .*imported.*\.staging-/),
    });
  });
});

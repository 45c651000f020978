/**
 * Index build on photos the size users have: 12 MP and 24 MP JPEGs and PNGs (a HEIC too when this
 * sharp can read one), generated once into the bench folder. Each build runs in its own process
 * (build-worker.ts) so its peak RSS is the build's alone; images/s is compared with the raw encode
 * measured in the same run.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync } from 'node:fs';
import path from 'node:path';
import sharp, { type Sharp } from 'sharp';

export interface PhotoSet {
  name: string;
  dir: string;
  width: number;
  height: number;
  format: 'jpeg' | 'png' | 'heif';
}

const SIZES = [
  { mp: 12, width: 4000, height: 3000 },
  { mp: 24, width: 6000, height: 4000 },
] as const;

/**
 * A photo-like image: a smooth colour field with texture at several scales (noise generated small and
 * enlarged), so JPEG and PNG compress it about as they do a photo rather than to nothing.
 */
async function photo(width: number, height: number, seed: number): Promise<Sharp> {
  const sw = Math.ceil(width / 16);
  const sh = Math.ceil(height / 16);
  const small = Buffer.alloc(sw * sh * 3);
  let s = seed >>> 0;
  for (let i = 0; i < small.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    const x = (i / 3) % sw;
    const y = Math.floor(i / 3 / sw);
    small[i] = Math.max(0, Math.min(255, ((x * 255) / sw + (y * 128) / sh + (s >>> 26)) & 255));
  }
  const base = await sharp(small, { raw: { width: sw, height: sh, channels: 3 } })
    .resize(width, height, { kernel: 'cubic' })
    .raw()
    .toBuffer();
  // Fine grain on top, as a sensor leaves it; light enough that a 24 MP PNG stays under the
  // 50 MB input cap (src/clip/preprocess.ts) as a phone's would.
  for (let i = 0; i < base.length; i += 13) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    base[i] = Math.max(0, Math.min(255, base[i]! + ((s >>> 29) - 4)));
  }
  return sharp(base, { raw: { width, height, channels: 3 } });
}

/** Makes (once) `count` photos per size and format; returns the sets that this sharp can write. */
export async function makePhotoSets(
  root: string,
  count: number,
  say: (m: string) => void,
): Promise<{
  sets: PhotoSet[];
  skipped: Record<string, string>;
}> {
  const sets: PhotoSet[] = [];
  const skipped: Record<string, string> = {};
  const heicReadable = (sharp.format.heif?.input.fileSuffix ?? []).includes('.heic');
  for (const size of SIZES) {
    for (const format of ['jpeg', 'png', 'heif'] as const) {
      const name = `${size.mp}mp-${format === 'heif' ? 'heic' : format}`;
      if (format === 'heif' && !heicReadable) {
        skipped[name] = 'this sharp (prebuilt libvips) reads AVIF only, not HEVC-coded HEIC';
        continue;
      }
      const dir = path.join(root, `photos-v2-${name}`);
      mkdirSync(dir, { recursive: true });
      for (let i = 0; i < count; i++) {
        const ext = format === 'jpeg' ? 'jpg' : format === 'png' ? 'png' : 'heic';
        const file = path.join(dir, `p${String(i).padStart(3, '0')}.${ext}`);
        if (existsSync(file)) continue;
        if (i === 0) say(`Generating ${name} photos…`);
        const img = await photo(size.width, size.height, 17 + i * 101 + size.mp);
        // Written aside and renamed: a run stopped halfway must not leave a truncated photo behind.
        const part = `${file}.part`;
        if (format === 'jpeg') await img.jpeg({ quality: 90 }).toFile(part);
        else if (format === 'png')
          await img.png({ compressionLevel: 6, adaptiveFiltering: true }).toFile(part);
        else await img.heif({ compression: 'hevc' }).toFile(part);
        renameSync(part, file);
      }
      sets.push({ name, dir, width: size.width, height: size.height, format });
    }
  }
  return { sets, skipped };
}

/** Builds an index of one set in a child process: images/s and that process's peak RSS. */
export function buildInChild(
  set: PhotoSet,
  modelDir: string,
  outDir: string,
): { images: number; imagesPerSec: number; seconds: number; maxRssMb: number; skipped: number } {
  const out = execFileSync(
    process.execPath,
    ['bin/run-script.js', 'scripts/bench/build-worker.ts', modelDir, set.dir, outDir],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 16 << 20 },
  );
  return JSON.parse(out.trim().split('\n').at(-1)!) as ReturnType<typeof buildInChild>;
}

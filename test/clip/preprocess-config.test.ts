/**
 * `loadPreprocessConfig` and the parts of `preprocessInto` that depend on the configuration,
 * checked against values that do not come from the module: the reference constants in
 * test/fixtures/clip/preprocess.json (openai/CLIP's transform), the real HF
 * preprocessor_config.json, configs written here with distinct numbers for every field, and a few
 * pixels worked out by hand.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import {
  CLIP_PREPROCESS_DEFAULTS,
  loadPreprocessConfig,
  MAX_INPUT_BYTES,
  type PreprocessConfig,
  preprocessInto,
} from '../../src/clip/preprocess.ts';
import { CLIP_FIXTURES_DIR, FIXTURES_DIR, tempDir } from '../support/fixtures.ts';
import { pngHeaderClaiming } from '../support/images.ts';

const REF = (
  JSON.parse(readFileSync(path.join(FIXTURES_DIR, 'clip', 'preprocess.json'), 'utf8')) as {
    image: {
      resize_shortest_side: number;
      center_crop: [number, number];
      rescale_factor: number;
      mean: number[];
      std: number[];
    };
  }
).image;

/** A model folder holding only this preprocessor_config.json. */
function modelWith(config: unknown): string {
  const dir = tempDir('imagesearch-preproc-');
  writeFileSync(
    path.join(dir, 'preprocessor_config.json'),
    typeof config === 'string' ? config : JSON.stringify(config),
  );
  return dir;
}

async function solid(width: number, height: number, rgb: [number, number, number]): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 3, background: { r: rgb[0], g: rgb[1], b: rgb[2] } } })
    .png()
    .toBuffer();
}

describe('loadPreprocessConfig', () => {
  it('reads the real HF preprocessor_config.json of clip-vit-base-patch32 as openai/CLIP defines it', async () => {
    const cfg = await loadPreprocessConfig(CLIP_FIXTURES_DIR);
    expect(cfg.shortestEdge).toBe(REF.resize_shortest_side);
    expect([cfg.cropHeight, cfg.cropWidth]).toEqual(REF.center_crop);
    expect(cfg.rescale).toBe(REF.rescale_factor);
    expect(cfg.mean).toEqual(REF.mean);
    expect(cfg.std).toEqual(REF.std);
  });

  it('reads every field from the file, mean and std each from its own key', async () => {
    // Distinct numbers everywhere, so no field can be read from another.
    const cfg = await loadPreprocessConfig(
      modelWith({
        size: { shortest_edge: 256 },
        crop_size: { height: 240, width: 232 },
        rescale_factor: 0.5,
        image_mean: [0.11, 0.22, 0.33],
        image_std: [0.71, 0.82, 0.93],
      }),
    );
    expect(cfg).toEqual({
      shortestEdge: 256,
      cropHeight: 240,
      cropWidth: 232,
      rescale: 0.5,
      mean: [0.11, 0.22, 0.33],
      std: [0.71, 0.82, 0.93],
    });
  });

  it('accepts the older number forms of size and crop_size', async () => {
    const cfg = await loadPreprocessConfig(modelWith({ size: 288, crop_size: 260 }));
    expect(cfg.shortestEdge).toBe(288);
    expect([cfg.cropWidth, cfg.cropHeight]).toEqual([260, 260]);
  });

  it('fills what the file leaves out with the CLIP values, and a missing file means CLIP', async () => {
    const partial = await loadPreprocessConfig(modelWith({ image_std: [0.5, 0.5, 0.5] }));
    expect(partial.std).toEqual([0.5, 0.5, 0.5]);
    expect(partial.mean).toEqual(REF.mean);
    expect(partial.shortestEdge).toBe(REF.resize_shortest_side);
    expect([partial.cropHeight, partial.cropWidth]).toEqual(REF.center_crop);
    expect(partial.rescale).toBeCloseTo(REF.rescale_factor, 15);
    const none = await loadPreprocessConfig(tempDir('imagesearch-nopreproc-'));
    expect(none.mean).toEqual(REF.mean);
    expect(none.std).toEqual(REF.std);
    expect(none.rescale).toBeCloseTo(REF.rescale_factor, 15);
    expect([none.shortestEdge, none.cropHeight, none.cropWidth]).toEqual([
      REF.resize_shortest_side,
      ...REF.center_crop,
    ]);
  });

  it('refuses a file that is not JSON or has values of the wrong kind', async () => {
    await expect(loadPreprocessConfig(modelWith('{ not json'))).rejects.toMatchObject({
      code: 'model_invalid',
    });
    for (const bad of [
      { image_mean: [0.5, 0.5] },
      { image_std: 'wide' },
      { size: { longest_edge: 224 } },
      { crop_size: { height: 224 } },
      { rescale_factor: '1/255' },
    ]) {
      await expect(loadPreprocessConfig(modelWith(bad)), JSON.stringify(bad)).rejects.toMatchObject({
        code: 'model_invalid',
      });
    }
  });

  it('reports an unreadable config (a folder where the file should be) as invalid, not as missing', async () => {
    const dir = tempDir('imagesearch-preproc-');
    // readFile on a directory fails with EISDIR: only ENOENT means "use the defaults".
    const { mkdirSync } = await import('node:fs');
    mkdirSync(path.join(dir, 'preprocessor_config.json'));
    await expect(loadPreprocessConfig(dir)).rejects.toMatchObject({ code: 'model_invalid' });
  });
});

describe('CLIP_PREPROCESS_DEFAULTS', () => {
  it('are openai/CLIP’s values', () => {
    expect(CLIP_PREPROCESS_DEFAULTS.mean).toEqual(REF.mean);
    expect(CLIP_PREPROCESS_DEFAULTS.std).toEqual(REF.std);
    expect(CLIP_PREPROCESS_DEFAULTS.rescale).toBeCloseTo(REF.rescale_factor, 15);
  });
});

describe('preprocessInto with a given configuration', () => {
  it('a red 200 becomes 1.1274 with the CLIP constants (worked by hand: (200/255 − 0.48145466) / 0.26862954)', async () => {
    const cfg = await loadPreprocessConfig(CLIP_FIXTURES_DIR);
    const out = new Float32Array(3 * 224 * 224);
    await preprocessInto(await solid(40, 30, [200, 100, 50]), cfg, out, 0);
    const plane = 224 * 224;
    expect(out[0]).toBeCloseTo(1.1274228, 5);
    // Green 100: (0.39215686 − 0.4578275) / 0.26130258; blue 50: (0.19607843 − 0.40821073) / 0.27577711.
    expect(out[plane]).toBeCloseTo(-0.2513203, 5);
    expect(out[2 * plane]).toBeCloseTo(-0.7692165, 5);
  });

  it('uses the configured mean, std and rescale for each channel', async () => {
    const cfg: PreprocessConfig = {
      shortestEdge: 8,
      cropWidth: 8,
      cropHeight: 8,
      rescale: 1 / 100,
      mean: [0.1, 0.2, 0.3],
      std: [0.5, 0.25, 2],
    };
    const out = new Float32Array(3 * 64);
    await preprocessInto(await solid(8, 8, [50, 100, 200]), cfg, out, 0);
    // (50/100 − 0.1)/0.5 = 0.8; (100/100 − 0.2)/0.25 = 3.2; (200/100 − 0.3)/2 = 0.85.
    expect([out[0], out[64], out[128]].map((v) => Number(v!.toFixed(5)))).toEqual([0.8, 3.2, 0.85]);
    expect(out.every((v, i) => v === out[Math.floor(i / 64) * 64])).toBe(true);
  });

  it('writes one image at its batch offset and touches nothing else', async () => {
    const cfg = { ...CLIP_PREPROCESS_DEFAULTS, shortestEdge: 4, cropWidth: 4, cropHeight: 4 };
    const one = 3 * 16;
    const out = new Float32Array(3 * one).fill(7);
    await preprocessInto(await solid(6, 4, [255, 255, 255]), cfg, out, one);
    expect(out.subarray(0, one).every((v) => v === 7)).toBe(true);
    expect(out.subarray(2 * one).every((v) => v === 7)).toBe(true);
    const white = (c: number) => (1 - REF.mean[c]!) / REF.std[c]!;
    for (let c = 0; c < 3; c++) expect(out[one + c * 16 + 5]).toBeCloseTo(white(c), 5);
  });

  it('a crop larger than the resized image is centred and padded with zeros (the mean)', async () => {
    // Shortest side 4, crop 6×8: the 4×4 image sits at x 1..4, y 2..5.
    const cfg: PreprocessConfig = {
      shortestEdge: 4,
      cropWidth: 6,
      cropHeight: 8,
      rescale: 1 / 255,
      mean: [0, 0, 0],
      std: [1, 1, 1],
    };
    const out = new Float32Array(3 * 48).fill(9);
    await preprocessInto(await solid(4, 4, [255, 255, 255]), cfg, out, 0);
    const at = (x: number, y: number) => out[y * 6 + x];
    expect([at(0, 0), at(5, 7), at(0, 3), at(5, 3), at(2, 1), at(2, 6)]).toEqual([0, 0, 0, 0, 0, 0]);
    expect([at(1, 2), at(4, 2), at(1, 5), at(4, 5)]).toEqual([1, 1, 1, 1]);
  });

  it('resizes the short side to shortestEdge, then crops the centre (a 2:1 image keeps its middle half)', async () => {
    // 32×16, black left half, white right half → resized to 16×8 → the 8×8 crop starts at x 4,
    // i.e. original columns 8..23: black on the left of the crop, white on the right.
    const raw = Buffer.alloc(32 * 16 * 3);
    for (let y = 0; y < 16; y++) raw.fill(255, (y * 32 + 16) * 3, (y * 32 + 32) * 3);
    const img = await sharp(raw, { raw: { width: 32, height: 16, channels: 3 } })
      .png()
      .toBuffer();
    const cfg: PreprocessConfig = {
      shortestEdge: 8,
      cropWidth: 8,
      cropHeight: 8,
      rescale: 1 / 255,
      mean: [0, 0, 0],
      std: [1, 1, 1],
    };
    const out = new Float32Array(3 * 64);
    await preprocessInto(img, cfg, out, 0);
    const row = Array.from(out.subarray(3 * 8, 4 * 8), (v) => Math.round(v * 10) / 10);
    expect(row.slice(0, 2)).toEqual([0, 0]);
    expect(row.slice(6)).toEqual([1, 1]);
    // Portrait: the same picture turned 90° crops rows instead of columns.
    const tall = await sharp(img).rotate(90).png().toBuffer();
    await preprocessInto(tall, cfg, out, 0);
    const column = [0, 1, 6, 7].map((y) => Math.round(out[y * 8 + 3]! * 10) / 10);
    expect(column).toEqual([0, 0, 1, 1]);
  });

  it('refuses inputs over MAX_INPUT_BYTES before decoding', async () => {
    const big = Buffer.alloc(MAX_INPUT_BYTES + 1);
    await expect(preprocessInto(big, CLIP_PREPROCESS_DEFAULTS, new Float32Array(3), 0)).rejects.toMatchObject(
      {
        code: 'image_too_large',
      },
    );
  });
});

describe('preprocessInto: geometry and failures, pinned closely', () => {
  const unit: PreprocessConfig = {
    shortestEdge: 224,
    cropWidth: 224,
    cropHeight: 224,
    rescale: 1 / 255,
    mean: [0, 0, 0],
    std: [1, 1, 1],
  };

  /** A 512×256 grey ramp: column c has level c/2 (0…255), the same on every row. */
  async function ramp(vertical = false): Promise<Buffer> {
    const [w, h] = vertical ? [256, 512] : [512, 256];
    const raw = Buffer.alloc(w * h);
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++) raw[y * w + x] = Math.floor((vertical ? y : x) / 2);
    return sharp(raw, { raw: { width: w, height: h, channels: 1 } })
      .png()
      .toBuffer();
  }

  it('scales by the short side: a 512×256 ramp becomes 448×224 and the crop starts at column 112', async () => {
    // Scale 224/256 = 0.875; crop x maps to original column (112 + x) / 0.875, level half of that.
    const out = new Float32Array(3 * 224 * 224);
    await preprocessInto(await ramp(), unit, out, 0);
    const level = (x: number) => out[100 * 224 + x]! * 255;
    for (const x of [0, 112, 223]) expect(level(x)).toBeCloseTo((112 + x) / 0.875 / 2, -0.5);
    await preprocessInto(await ramp(true), unit, out, 0);
    const down = (y: number) => out[y * 224 + 100]! * 255;
    for (const y of [0, 112, 223]) expect(down(y)).toBeCloseTo((112 + y) / 0.875 / 2, -0.5);
  });

  it('downscales with PIL’s bicubic filter, as HF does: an edge rings exactly as PIL computes it', async () => {
    /** PIL's bicubic kernel (a = −0.5) and its antialiased 1-D resample (ImagingResample). */
    const cubic = (t: number) => {
      const a = -0.5;
      const x = Math.abs(t);
      if (x < 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
      if (x < 2) return (((x - 5) * x + 8) * x - 4) * a;
      return 0;
    };
    const pilResample = (src: number[], size: number): number[] => {
      const scale = src.length / size;
      const support = 2 * scale;
      return Array.from({ length: size }, (_, i) => {
        const centre = (i + 0.5) * scale;
        const from = Math.max(Math.floor(centre - support + 0.5), 0);
        const to = Math.min(Math.floor(centre + support + 0.5), src.length);
        let sum = 0;
        let weights = 0;
        for (let x = from; x < to; x++) {
          const w = cubic((x - centre + 0.5) / scale);
          sum += w * src[x]!;
          weights += w;
        }
        return Math.min(255, Math.max(0, Math.round(sum / weights)));
      });
    };
    for (const width of [32, 40]) {
      // Two grey levels side by side, the same on every row: only the horizontal filter matters.
      const height = width / 2;
      const columns = Array.from({ length: width }, (_, x) => (x < width / 2 ? 40 : 215));
      const raw = Buffer.alloc(width * height);
      for (let y = 0; y < height; y++) raw.set(columns, y * width);
      const img = await sharp(raw, { raw: { width, height, channels: 1 } })
        .png()
        .toBuffer();
      // Short side 8 → the whole 16×8 resized image is kept by a 16×8 crop.
      const cfg: PreprocessConfig = { ...unit, rescale: 1, shortestEdge: 8, cropWidth: 16, cropHeight: 8 };
      const out = new Float32Array(3 * 16 * 8);
      await preprocessInto(img, cfg, out, 0);
      const expectedRow = pilResample(columns, 16);
      // The ringing next to the edge (below 40, above 215) is the filter's signature.
      expect(Math.min(...expectedRow)).toBeLessThan(40);
      expect(Math.max(...expectedRow)).toBeGreaterThan(215);
      for (const y of [0, 4, 7]) {
        const row = Array.from(out.subarray(y * 16, y * 16 + 16));
        for (let x = 0; x < 16; x++)
          expect(Math.abs(row[x]! - expectedRow[x]!), `${width}: (${x}, ${y})`).toBeLessThanOrEqual(1);
      }
    }
  });

  it('swaps width and height for every transposing EXIF orientation (5 to 8)', async () => {
    const base = await sharp(await ramp())
      .jpeg({ quality: 95 })
      .toBuffer();
    const reference = new Float32Array(3 * 224 * 224);
    const tagged = new Float32Array(3 * 224 * 224);
    for (const orientation of [5, 6, 7, 8]) {
      // What the tag means, applied to the pixels: the reference the tagged file must match.
      const upright = await sharp(await sharp(base).withMetadata({ orientation }).toBuffer())
        .rotate()
        .jpeg({ quality: 95 })
        .toBuffer();
      expect((await sharp(upright).metadata()).height).toBe(512);
      await preprocessInto(upright, unit, reference, 0);
      await preprocessInto(await sharp(base).withMetadata({ orientation }).toBuffer(), unit, tagged, 0);
      let worst = 0;
      for (let i = 0; i < reference.length; i += 31)
        worst = Math.max(worst, Math.abs(reference[i]! - tagged[i]!));
      expect(worst, `orientation ${orientation}`).toBeLessThan(0.05);
    }
  });

  it('pads every channel of a small crop with zeros, not just the first', async () => {
    const cfg: PreprocessConfig = { ...unit, shortestEdge: 4, cropWidth: 6, cropHeight: 8 };
    const out = new Float32Array(3 * 48).fill(9);
    await preprocessInto(await solid(4, 4, [255, 255, 255]), cfg, out, 0);
    for (let c = 0; c < 3; c++) {
      expect([out[c * 48], out[c * 48 + 47]], `channel ${c}`).toEqual([0, 0]);
      expect(out[c * 48 + 2 * 6 + 1], `channel ${c}`).toBe(1);
    }
  });

  it('says what went wrong in words the user can act on, keeping the cause for the log', async () => {
    const out = new Float32Array(3 * 224 * 224);
    const fail = (input: Buffer) =>
      preprocessInto(input, unit, out, 0).then(
        () => undefined,
        (e: unknown) => e as { code: string; userMessage: string; cause?: unknown },
      );
    const garbage = await fail(Buffer.from('not an image at all'));
    expect(garbage).toMatchObject({
      code: 'image_invalid',
      userMessage: "That image couldn't be read — is the file complete?",
    });
    expect(garbage?.cause).toBeInstanceOf(Error);
    const bomb = await fail(pngHeaderClaiming(20_000, 20_000));
    expect(bomb).toMatchObject({
      code: 'image_too_large',
      userMessage: 'That image has too many pixels to process.',
    });
    expect(bomb?.cause).toBeInstanceOf(Error);
    const huge = await fail(Buffer.alloc(MAX_INPUT_BYTES + 1));
    expect(huge).toMatchObject({
      code: 'image_too_large',
      userMessage: 'That image is too large (over 50 MB).',
    });
  });

  it('names the file in config errors', async () => {
    await expect(loadPreprocessConfig(modelWith('{'))).rejects.toMatchObject({
      userMessage: expect.stringMatching(/preprocessor_config\.json in .* is not valid JSON\./),
    });
    await expect(loadPreprocessConfig(modelWith({ image_mean: 'x' }))).rejects.toMatchObject({
      userMessage: expect.stringMatching(/preprocessor_config\.json in .* has unexpected values\./),
    });
  });
});

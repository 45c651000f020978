import { readFileSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { CLIP_PREPROCESS_DEFAULTS as CFG, preprocessInto } from '../../src/clip/preprocess.ts';
import { FIXTURES_DIR } from '../support/fixtures.ts';
import { pngHeaderClaiming } from '../support/images.ts';

const S = 224;
const PLANE = S * S;

/**
 * The reference constants, read from test/fixtures/clip/preprocess.json (taken from openai/CLIP's
 * own transform), never from the module under test: the module's defaults are what is checked.
 */
const REF = (
  JSON.parse(readFileSync(path.join(FIXTURES_DIR, 'clip', 'preprocess.json'), 'utf8')) as {
    image: { mean: number[]; std: number[]; rescale_factor: number };
  }
).image;

/** The CLIP normalisation, written out independently: (v · rescale − mean) / std. */
const expected = (v: number, c: number) => (v * REF.rescale_factor - REF.mean[c]!) / REF.std[c]!;

async function run(input: Buffer): Promise<Float32Array> {
  const out = new Float32Array(3 * PLANE);
  await preprocessInto(input, CFG, out, 0);
  return out;
}

const px = (t: Float32Array, c: number, x: number, y: number) => t[c * PLANE + y * S + x]!;

function expectRgb(t: Float32Array, x: number, y: number, rgb: [number, number, number], tol = 1e-5): void {
  for (let c = 0; c < 3; c++) expect(Math.abs(px(t, c, x, y) - expected(rgb[c]!, c))).toBeLessThan(tol);
}

/** Vertical stripes of equal width, one colour each. */
async function stripes(
  width: number,
  height: number,
  colours: [number, number, number][],
  vertical = true,
): Promise<Buffer> {
  const n = colours.length;
  const raw = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = vertical ? Math.floor((x * n) / width) : Math.floor((y * n) / height);
      raw.set(colours[i]!, (y * width + x) * 3);
    }
  }
  return sharp(raw, { raw: { width, height, channels: 3 } })
    .png()
    .toBuffer();
}

const RED: [number, number, number] = [220, 30, 40];
const GREEN: [number, number, number] = [20, 200, 60];
const BLUE: [number, number, number] = [30, 50, 210];
const YELLOW: [number, number, number] = [240, 220, 10];

describe('CLIP preprocessing', () => {
  it('normalises a solid colour exactly, whatever the input size', async () => {
    for (const [w, h] of [
      [300, 200],
      [50, 80],
      [224, 224],
    ] as const) {
      const img = await sharp({
        create: { width: w, height: h, channels: 3, background: { r: 200, g: 100, b: 50 } },
      })
        .png()
        .toBuffer();
      const t = await run(img);
      for (const [x, y] of [
        [0, 0],
        [111, 111],
        [223, 223],
      ] as const)
        expectRgb(t, x, y, [200, 100, 50]);
    }
  });

  it('lays out CHW with the centre crop of an unscaled wide image', async () => {
    // 448×224: no resize needed; the centre crop keeps columns 112..335 → red then blue halves.
    const t = await run(await stripes(448, 224, [RED, RED, BLUE, BLUE]));
    expectRgb(t, 0, 5, RED);
    expectRgb(t, 100, 200, RED);
    expectRgb(t, 120, 5, BLUE);
    expectRgb(t, 223, 223, BLUE);
  });

  it('scales the shortest side to 224 then centre-crops (landscape and portrait)', async () => {
    // 600×300 → 448×224: stripes 112 wide; the crop keeps stripes 2 and 3 only.
    const wide = await run(await stripes(600, 300, [RED, GREEN, BLUE, YELLOW]));
    expectRgb(wide, 56, 112, GREEN, 0.03);
    expectRgb(wide, 168, 112, BLUE, 0.03);
    const tall = await run(await stripes(300, 600, [RED, GREEN, BLUE, YELLOW], false));
    expectRgb(tall, 112, 56, GREEN, 0.03);
    expectRgb(tall, 112, 168, BLUE, 0.03);
  });

  it('flattens transparency on white and handles grey and CMYK input', async () => {
    const transparent = await sharp({
      create: { width: 64, height: 64, channels: 4, background: { r: 0, g: 0, b: 0, alpha: 0 } },
    })
      .png()
      .toBuffer();
    expectRgb(await run(transparent), 10, 10, [255, 255, 255]);

    const grey = await sharp({
      create: { width: 64, height: 64, channels: 3, background: { r: 90, g: 90, b: 90 } },
    })
      .toColourspace('b-w')
      .png()
      .toBuffer();
    expect((await sharp(grey).metadata()).channels).toBe(1);
    expectRgb(await run(grey), 100, 100, [90, 90, 90]);

    const cmyk = await sharp({
      create: { width: 64, height: 64, channels: 3, background: { r: 30, g: 50, b: 210 } },
    })
      .toColourspace('cmyk')
      .jpeg({ quality: 95 })
      .toBuffer();
    expect((await sharp(cmyk).metadata()).space).toBe('cmyk');
    // libvips converts CMYK through ICC profiles, so the exact sRGB values shift; what matters is a
    // 3-channel reading in which the blue patch is still clearly blue.
    const t = await run(cmyk);
    const level = (c: number) => (px(t, c, 100, 100) * REF.std[c]! + REF.mean[c]!) * 255;
    expect(level(2)).toBeGreaterThan(level(0) + 60);
    expect(level(2)).toBeGreaterThan(level(1) + 60);
  });

  it('applies EXIF orientation before cropping', async () => {
    const base = await stripes(300, 200, [RED, BLUE]);
    const upright = await run(await sharp(base).rotate(90).jpeg({ quality: 95 }).toBuffer());
    const tagged = await run(
      await sharp(base).jpeg({ quality: 95 }).withMetadata({ orientation: 6 }).toBuffer(),
    );
    expect(
      (await sharp(await sharp(base).jpeg().withMetadata({ orientation: 6 }).toBuffer()).metadata())
        .orientation,
    ).toBe(6);
    let maxDiff = 0;
    for (let i = 0; i < upright.length; i += 97)
      maxDiff = Math.max(maxDiff, Math.abs(upright[i]! - tagged[i]!));
    expect(maxDiff).toBeLessThan(0.1);
    // Rotated 90° clockwise: red (left) ends up on top.
    expectRgb(tagged, 112, 20, RED, 0.1);
    expectRgb(tagged, 112, 200, BLUE, 0.1);
  });

  it('reads JPEG, PNG, WebP, GIF and TIFF to the same pixels', async () => {
    const png = await stripes(320, 240, [RED, GREEN]);
    const ref = await run(png);
    for (const fmt of ['jpeg', 'webp', 'gif', 'tiff'] as const) {
      const t = await run(
        await sharp(png)
          .toFormat(fmt, fmt === 'jpeg' || fmt === 'webp' ? { quality: 95 } : {})
          .toBuffer(),
      );
      let sum = 0;
      for (let i = 0; i < t.length; i++) sum += Math.abs(t[i]! - ref[i]!);
      expect(sum / t.length, fmt).toBeLessThan(0.05);
    }
  });

  it('refuses corrupt, empty and decompression-bomb inputs with friendly errors', async () => {
    await expect(run(Buffer.from('definitely not an image'))).rejects.toMatchObject({
      code: 'image_invalid',
    });
    await expect(run(Buffer.alloc(0))).rejects.toMatchObject({ code: 'image_invalid' });
    await expect(run(pngHeaderClaiming(50_000, 50_000))).rejects.toMatchObject({ code: 'image_too_large' });
  });
});

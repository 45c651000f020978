/**
 * The size limits in front of decoding: the byte limit shared by `checkImageSize` and
 * `preprocessInto`, the query door check's pixel count (animated frames included), the decoder's
 * own pixel limit at index time, and which failure gets which friendly message. Boundaries are
 * tested from both sides with inputs that are otherwise fine, so only the limit itself decides.
 */
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import {
  checkImageSize,
  MAX_INPUT_BYTES,
  MAX_INPUT_PIXELS,
  type PreprocessConfig,
  preprocessInto,
} from '../../src/clip/preprocess.ts';
import { animated, jpegWithDamagedScan, pngHeaderClaiming } from '../support/images.ts';

/** Identity normalisation on an 8×8 crop: outputs are the 0…255 levels. */
const LEVELS: PreprocessConfig = {
  shortestEdge: 8,
  cropWidth: 8,
  cropHeight: 8,
  rescale: 1,
  mean: [0, 0, 0],
  std: [1, 1, 1],
};

interface Failure {
  code: string;
  userMessage: string;
  message: string;
  cause?: unknown;
}

/** The error a promise rejects with; fails the test if it resolves. */
async function failure(p: Promise<unknown>): Promise<Failure> {
  try {
    await p;
  } catch (e) {
    return e as Failure;
  }
  throw new Error('expected a rejection, but it resolved');
}

const preprocess = (input: Buffer, cfg: PreprocessConfig = LEVELS) =>
  preprocessInto(input, cfg, new Float32Array(3 * cfg.cropWidth * cfg.cropHeight), 0);

const READ_FAILED = "That image couldn't be read — is the file complete?";
const TOO_MANY_TO_PROCESS = 'That image has too many pixels to process.';

describe('the byte limit (checkImageSize and preprocessInto)', () => {
  it('accepts a valid image exactly MAX_INPUT_BYTES long and refuses one byte more, before decoding', async () => {
    // A small PNG followed by zeros: decoders stop at IEND, so only the length differs.
    const png = await sharp({
      create: { width: 8, height: 8, channels: 3, background: { r: 10, g: 20, b: 30 } },
    })
      .png()
      .toBuffer();
    const big = Buffer.alloc(MAX_INPUT_BYTES + 1);
    png.copy(big);
    const exact = big.subarray(0, MAX_INPUT_BYTES);

    await expect(checkImageSize(exact)).resolves.toBeUndefined();
    const out = new Float32Array(3 * 64);
    await preprocessInto(exact, LEVELS, out, 0);
    expect([out[0], out[64], out[128]]).toEqual([10, 20, 30]);

    // 50 MiB, as the message says.
    const tooBig = { code: 'image_too_large', userMessage: 'That image is too large (over 50 MB).' };
    expect(await failure(checkImageSize(big))).toMatchObject(tooBig);
    expect(await failure(preprocess(big))).toMatchObject(tooBig);
  });
});

describe('checkImageSize: the door check on query images', () => {
  it('defaults to 25 megapixels: 5000×5000 passes, 5000×5001 is refused with the size in the log detail', async () => {
    await expect(checkImageSize(pngHeaderClaiming(5000, 5000))).resolves.toBeUndefined();
    await expect(checkImageSize(pngHeaderClaiming(6000, 4000))).resolves.toBeUndefined();
    const e = await failure(checkImageSize(pngHeaderClaiming(5000, 5001)));
    expect(e).toMatchObject({
      code: 'image_too_large',
      userMessage: 'That image has too many pixels — please send one under 25 megapixels.',
    });
    expect(e.message).toBe(`${e.userMessage} (5000×5001)`);
  });

  it('takes the limit as an argument, exact at the boundary, and rounds the megapixels down in the message', async () => {
    await expect(checkImageSize(pngHeaderClaiming(2500, 1000), 2_500_000)).resolves.toBeUndefined();
    const e = await failure(checkImageSize(pngHeaderClaiming(2500, 1001), 2_500_000));
    expect(e).toMatchObject({
      code: 'image_too_large',
      userMessage: 'That image has too many pixels — please send one under 2 megapixels.',
    });
  });

  it('reads only the header, without the decoder’s own pixel limit getting in first', async () => {
    // 400 MP is over libvips' default limit (~268 MP): the refusal must still be the query limit's.
    const huge = pngHeaderClaiming(20_000, 20_000);
    const e = await failure(checkImageSize(huge));
    expect(e).toMatchObject({
      code: 'image_too_large',
      userMessage: 'That image has too many pixels — please send one under 25 megapixels.',
    });
    expect(e.message).toContain('(20000×20000)');
    // And with a limit above it, the header alone is fine: nothing is decoded.
    await expect(checkImageSize(huge, 500_000_000)).resolves.toBeUndefined();
  });

  it('counts every frame of an animated image', async () => {
    for (const format of ['gif', 'webp'] as const) {
      // 20×10 per frame, 5 frames: 1000 pixels to decode.
      const img = await animated(format, 20, 10, 5);
      await expect(checkImageSize(img, 1000), format).resolves.toBeUndefined();
      const over = await failure(checkImageSize(img, 999));
      expect(over.code, format).toBe('image_too_large');
      expect(over.message, format).toContain('(20×10 × 5 frames)');
      // One frame (200) or a frame's height (10) would fit in 500; all five frames do not.
      expect((await failure(checkImageSize(img, 500))).code, format).toBe('image_too_large');
      expect((await failure(checkImageSize(img, 201))).code, format).toBe('image_too_large');
    }
  });

  it('refuses what is not an image as unreadable, keeping the decoder’s reason', async () => {
    for (const input of [Buffer.from('definitely not an image'), Buffer.alloc(0)]) {
      const e = await failure(checkImageSize(input));
      expect(e).toMatchObject({ code: 'image_invalid', userMessage: READ_FAILED });
      expect(e.cause).toBeInstanceOf(Error);
      expect(e.message).toBe(`${READ_FAILED} (${(e.cause as Error).message})`);
    }
  });
});

describe('preprocessInto: the decoder’s pixel limit and decoding failures', () => {
  it('lets exactly MAX_INPUT_PIXELS through to decoding (which then fails on the empty pixel data)', async () => {
    const [w, h] = [10_000, MAX_INPUT_PIXELS / 10_000];
    expect(w * h).toBe(MAX_INPUT_PIXELS);
    const e = await failure(preprocess(pngHeaderClaiming(w, h)));
    expect(e).toMatchObject({ code: 'image_invalid', userMessage: READ_FAILED });
    expect(e.cause).toBeInstanceOf(Error);
  });

  it('refuses more than MAX_INPUT_PIXELS while reading the header, even below libvips’ default limit', async () => {
    // 10 000 × (h + 1) is 10 000 pixels over; 90 MP is under libvips' own default (~268 MP).
    for (const [w, h] of [
      [10_000, MAX_INPUT_PIXELS / 10_000 + 1],
      [10_000, 9_000],
    ] as const) {
      const e = await failure(preprocess(pngHeaderClaiming(w, h)));
      expect(e, `${w}×${h}`).toMatchObject({ code: 'image_too_large', userMessage: TOO_MANY_TO_PROCESS });
      // Refused by the decoder at the header (the cause says so), not after reading the size.
      expect((e.cause as Error | undefined)?.message, `${w}×${h}`).toMatch(/pixel limit/);
    }
  });

  it('reports a file whose header is fine but whose pixels are missing as unreadable', async () => {
    const e = await failure(preprocess(pngHeaderClaiming(10, 10)));
    expect(e).toMatchObject({ code: 'image_invalid', userMessage: READ_FAILED });
    expect(e.cause).toBeInstanceOf(Error);
  });

  it('still reads a JPEG with recoverable damage (libjpeg warns, it does not fail)', async () => {
    const damaged = await jpegWithDamagedScan();
    // The damage is real: made strict, libvips refuses the file.
    await expect(sharp(damaged, { failOn: 'warning' }).raw().toBuffer()).rejects.toThrow(/Corrupt JPEG data/);
    const out = new Float32Array(3 * 64).fill(-1);
    await preprocessInto(damaged, LEVELS, out, 0);
    expect(out.every((v) => v >= 0 && v <= 255)).toBe(true);
  });
});

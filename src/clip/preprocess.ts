import { readFile } from 'node:fs/promises';
import path from 'node:path';
import sharp, { type Metadata, type SharpOptions } from 'sharp';
import { z } from 'zod';
import { ImageSearchError } from '../core/errors.ts';

/** CLIP image preprocessing parameters, read from the model's `preprocessor_config.json`. */
export interface PreprocessConfig {
  shortestEdge: number;
  cropWidth: number;
  cropHeight: number;
  rescale: number;
  mean: [number, number, number];
  std: [number, number, number];
}

export const CLIP_PREPROCESS_DEFAULTS: PreprocessConfig = {
  shortestEdge: 224,
  cropWidth: 224,
  cropHeight: 224,
  rescale: 1 / 255,
  mean: [0.48145466, 0.4578275, 0.40821073],
  std: [0.26862954, 0.26130258, 0.27577711],
};

/**
 * Inputs larger than this many pixels are refused (decompression bombs). Generous because it also
 * guards the operator's own photos at index time (45–60 MP cameras exist); what chat users send is
 * held to {@link MAX_QUERY_PIXELS}.
 */
export const MAX_INPUT_PIXELS = 80_000_000;
/**
 * Query images (uploads, files shared in Slack or Discord) above this are refused before decoding.
 * CLIP looks at 224 px, so nothing is lost; and though JPEG and WebP shrink on load (libvips decodes
 * them straight at 1/2, 1/4 or 1/8 scale when resizing), PNG, GIF and TIFF decode in full: an 80 MP
 * PNG of a few hundred KB costs half a second of CPU and ~240 MB. 25 MP covers a 6000 × 4000 photo.
 */
export const MAX_QUERY_PIXELS = 25_000_000;
/** Encoded inputs larger than this are refused before decoding. */
export const MAX_INPUT_BYTES = 50 * 1024 * 1024;

const triple = z.tuple([z.number(), z.number(), z.number()]);
const configSchema = z.object({
  size: z.union([z.number(), z.object({ shortest_edge: z.number() }).loose()]).optional(),
  crop_size: z.union([z.number(), z.object({ height: z.number(), width: z.number() })]).optional(),
  rescale_factor: z.number().optional(),
  image_mean: triple.optional(),
  image_std: triple.optional(),
});

export async function loadPreprocessConfig(modelDir: string): Promise<PreprocessConfig> {
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(path.join(modelDir, 'preprocessor_config.json'), 'utf8'));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return CLIP_PREPROCESS_DEFAULTS;
    throw new ImageSearchError(
      'model_invalid',
      `The model's preprocessor_config.json in ${modelDir} is not valid JSON.`,
    );
  }
  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) {
    throw new ImageSearchError(
      'model_invalid',
      `The model's preprocessor_config.json in ${modelDir} has unexpected values.`,
    );
  }
  const c = parsed.data;
  const d = CLIP_PREPROCESS_DEFAULTS;
  const shortestEdge = typeof c.size === 'number' ? c.size : (c.size?.shortest_edge ?? d.shortestEdge);
  const crop = typeof c.crop_size === 'number' ? { height: c.crop_size, width: c.crop_size } : c.crop_size;
  return {
    shortestEdge,
    cropWidth: crop?.width ?? d.cropWidth,
    cropHeight: crop?.height ?? d.cropHeight,
    rescale: c.rescale_factor ?? d.rescale,
    mean: c.image_mean ?? d.mean,
    std: c.image_std ?? d.std,
  };
}

/** How every decode opens an image: libvips' own pixel cap, and a damaged file is an error. */
const DECODE: SharpOptions = { limitInputPixels: MAX_INPUT_PIXELS, failOn: 'error' };

/**
 * The header of an encoded image after the byte cap, read with `options`; what cannot be read is
 * refused with a friendly ImageSearchError.
 */
async function readHeader(
  input: Buffer,
  options: SharpOptions,
): Promise<Metadata & { width: number; height: number }> {
  if (input.length > MAX_INPUT_BYTES) {
    throw new ImageSearchError(
      'image_too_large',
      `That image is too large (over ${MAX_INPUT_BYTES >> 20} MB).`,
    );
  }
  let meta: Metadata;
  try {
    meta = await sharp(input, options).metadata();
  } catch (e) {
    throw imageError(e);
  }
  // libvips refuses zero-sized images itself; this guard only narrows the types, no test can reach it.
  // Stryker disable all
  if (!meta.width || !meta.height)
    throw new ImageSearchError('image_invalid', "That file doesn't look like an image.");
  // Stryker restore all
  return { ...meta, width: meta.width, height: meta.height };
}

/**
 * Refuses an image whose header declares more than `maxPixels` (or that is not an image), reading
 * only the header: the cheap door check for query images, before any decoding or queueing.
 */
export async function checkImageSize(input: Buffer, maxPixels = MAX_QUERY_PIXELS): Promise<void> {
  const meta = await readHeader(input, { limitInputPixels: false });
  // Animated images decode every frame: `pages` of them.
  const pixels = meta.width * (meta.pageHeight ?? meta.height) * Math.max(1, meta.pages ?? 1);
  if (pixels > maxPixels) {
    throw new ImageSearchError(
      'image_too_large',
      `That image has too many pixels — please send one under ${Math.floor(maxPixels / 1e6)} megapixels.`,
      { detail: `${meta.width}×${meta.height}${meta.pages ? ` × ${meta.pages} frames` : ''}` },
    );
  }
}

/**
 * CLIP preprocessing of one encoded image into `out` (CHW float32) at `offset`:
 * EXIF rotation, shortest side to `shortestEdge` (bicubic), centre crop, RGB (alpha flattened on
 * white, grey and CMYK converted to sRGB), scale to [0,1], per-channel (x - mean) / std.
 */
export async function preprocessInto(
  input: Buffer,
  cfg: PreprocessConfig,
  out: Float32Array,
  offset: number,
): Promise<void> {
  const meta = await readHeader(input, DECODE);
  // Orientations 5–8 swap width and height once EXIF rotation is applied.
  const swapped = (meta.orientation ?? 1) >= 5;
  const w = swapped ? meta.height : meta.width;
  const h = swapped ? meta.width : meta.height;
  const scale = cfg.shortestEdge / Math.min(w, h);
  // As HF: the short side becomes exactly shortestEdge (floor may land one below it), the long side
  // is truncated.
  const rw = Math.max(cfg.shortestEdge, Math.floor(w * scale));
  const rh = Math.max(cfg.shortestEdge, Math.floor(h * scale));
  const cw = Math.min(cfg.cropWidth, rw);
  const ch = Math.min(cfg.cropHeight, rh);
  let pixels: Buffer;
  try {
    pixels = await sharp(input, DECODE)
      .rotate()
      .flatten({ background: '#ffffff' })
      .toColourspace('srgb')
      .resize(rw, rh, { kernel: 'cubic', fit: 'fill' })
      .extract({ left: Math.floor((rw - cw) / 2), top: Math.floor((rh - ch) / 2), width: cw, height: ch })
      .removeAlpha()
      .raw()
      .toBuffer();
  } catch (e) {
    throw imageError(e);
  }
  const plane = cfg.cropWidth * cfg.cropHeight;
  const channels = pixels.length / (cw * ch);
  // flatten + sRGB + removeAlpha always hand back 3 bands (about 25 unusual formats tried): a guard
  // against a decoder that behaves otherwise, which no test can produce.
  // Stryker disable all
  if (channels !== 3)
    throw new ImageSearchError('image_invalid', 'That image could not be converted to RGB.');
  // Stryker restore all
  // Crops smaller than the model's input (tiny images) are padded with the mean (zero after normalising).
  const padX = Math.floor((cfg.cropWidth - cw) / 2);
  const padY = Math.floor((cfg.cropHeight - ch) / 2);
  for (let c = 0; c < 3; c++) {
    const base = offset + c * plane;
    out.fill(0, base, base + plane);
    const k = cfg.rescale / cfg.std[c]!;
    const b = cfg.mean[c]! / cfg.std[c]!;
    for (let y = 0; y < ch; y++) {
      const row = base + (y + padY) * cfg.cropWidth + padX;
      const src = y * cw * 3 + c;
      for (let x = 0; x < cw; x++) out[row + x] = pixels[src + x * 3]! * k - b;
    }
  }
}

function imageError(e: unknown): ImageSearchError {
  const msg = e instanceof Error ? e.message : String(e);
  // Not /exceeds/: libvips' "exceeds channel limit" is an unreadable file, not a big one.
  if (/pixel limit/i.test(msg)) {
    return new ImageSearchError('image_too_large', 'That image has too many pixels to process.', {
      cause: e,
    });
  }
  return new ImageSearchError('image_invalid', "That image couldn't be read — is the file complete?", {
    cause: e,
    detail: msg,
  });
}
